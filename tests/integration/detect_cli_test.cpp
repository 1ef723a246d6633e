// `ktrail detect`, `ktrail ingest --detect-rules` and `ktrail findings`, run as the real binary
// on real files: findings printed and stored, stored once across replays, redacted like stored
// events, computed on the event as received (before a policy lowers it), and rules files that
// do not load refused with their location.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.h"

namespace {

namespace fs = std::filesystem;

const std::string kShared = std::string(KTRAIL_SOURCE_DIR) + "/tests/data";
const std::string kTrace = kShared + "/falco-k8s-audit-trace-files.jsonl";

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) {
      out.push_back(l);
    }
  }
  return out;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class DetectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ktrail-detect-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliRun run(const std::string& args, const std::string& stdin_file = "/dev/null") {
    const fs::path out = dir_ / "out", err = dir_ / "err";
    const std::string cmd = std::string(KTRAIL_BINARY) + " " + args + " <" + stdin_file + " >" +
                            out.string() + " 2>" + err.string();
    CliRun r;
    const int rc = std::system(cmd.c_str());
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

  // `findings list -o json` of `db`, parsed.
  rapidjson::Document findings(const fs::path& db, const std::string& extra = "") {
    CliRun r = run("findings list --db " + db.string() + " -o json " + extra);
    EXPECT_EQ(r.status, 0) << r.err;
    rapidjson::Document doc;
    EXPECT_TRUE(ktrail::json::parse(r.out, &doc).is_ok()) << r.out;
    return doc;
  }

  fs::path dir_;
};

TEST_F(DetectCli, PrintsOneJsonLinePerFindingAndReportsRejectedItems) {
  const std::string bad = "{\"kind\":\"Event\",\"no\":\"auditID\"}\nnot json\n";
  const fs::path input = write("in.jsonl", slurp(kTrace) + bad);
  CliRun r = run("detect --rules " + kShared + "/falco/falco_rules_k8s_lists_excerpt.yaml --rules " +
                 kShared + "/falco/k8s_audit_rules.yaml " + input.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto out = lines(r.out);
  ASSERT_FALSE(out.empty());
  bool privileged = false;
  for (const auto& l : out) {
    rapidjson::Document d;
    ASSERT_TRUE(ktrail::json::parse(l, &d).is_ok()) << l;
    for (const char* key : {"rule", "priority", "auditID", "stage", "time", "output"}) {
      ASSERT_TRUE(d.HasMember(key) && d[key].IsString()) << key << " in " << l;
    }
    ASSERT_TRUE(d["tags"].IsArray());
    if (std::string(d["rule"].GetString()) == "Create Privileged Pod") {
      privileged = true;
      EXPECT_EQ(std::string(d["priority"].GetString()), "WARNING");
      EXPECT_TRUE(has(d["output"].GetString(), "Pod started with privileged container (user="))
          << l;
    }
  }
  EXPECT_TRUE(privileged);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n') >= 2, true);
  EXPECT_TRUE(has(r.err, "rejected: ")) << r.err;
  EXPECT_TRUE(has(r.err, "51 events, " + std::to_string(out.size()) + " findings, 2 rejected"))
      << r.err;
}

TEST_F(DetectCli, DefaultRulesFromStdinAndLint) {
  CliRun r = run("detect -", kTrace);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(has(r.out, "\"rule\":\"Privileged or root container created\"")) << r.out;
  CliRun lint = run("detect --lint --rules " + kShared + "/falco/k8s_audit_rules.yaml");
  EXPECT_EQ(lint.status, 0) << lint.err;
  EXPECT_TRUE(has(lint.err, "k8s_audit_rules.yaml:81:1: warning: empty entry '-' skipped"))
      << lint.err;
}

TEST_F(DetectCli, RulesThatDoNotLoadAreRefusedWithTheirLocation) {
  const fs::path rules = write("bad.yaml",
                               "- macro: m\n  condition: ka.verb=get and (ka.user.name=x\n"
                               "- rule: r\n  desc: d\n  condition: m\n  output: o\n"
                               "  priority: INFO\n  source: k8s_audit\n");
  CliRun r = run("detect --rules " + rules.string() + " " + kTrace);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_TRUE(has(r.err, rules.string() + ":2:14: error: macro 'm': unbalanced parentheses"))
      << r.err;
  const fs::path db = dir_ / "k.db";
  CliRun ingest = run("ingest --db " + db.string() + " --detect-rules " + rules.string() + " " +
                      kTrace);
  EXPECT_NE(ingest.status, 0);
  EXPECT_TRUE(has(ingest.err, ":2:14: error:")) << ingest.err;
}

TEST_F(DetectCli, IngestStoresFindingsOnceAcrossReplays) {
  const fs::path db = dir_ / "k.db";
  CliRun first = run("ingest --db " + db.string() + " " + kTrace);
  ASSERT_EQ(first.status, 0) << first.err;
  auto one = findings(db);
  ASSERT_TRUE(one.IsArray());
  ASSERT_GT(one.Size(), 5u);
  CliRun again = run("ingest --db " + db.string() + " " + kTrace);
  ASSERT_EQ(again.status, 0) << again.err;
  auto two = findings(db);
  EXPECT_EQ(two.Size(), one.Size());
  // What `ktrail detect` prints with the same (default) rules is what was stored, once per
  // rule, auditID and stage (Falco's trace files repeat some auditIDs).
  CliRun printed = run("detect " + kTrace);
  std::set<std::string> printed_keys;
  for (const auto& l : lines(printed.out)) {
    rapidjson::Document d;
    ASSERT_TRUE(ktrail::json::parse(l, &d).is_ok());
    printed_keys.insert(std::string(d["rule"].GetString()) + "|" + d["auditID"].GetString() + "|" +
                        d["stage"].GetString());
  }
  std::set<std::string> stored_keys;
  for (const auto& f : one.GetArray()) {
    stored_keys.insert(std::string(f["rule"].GetString()) + "|" + f["auditID"].GetString() + "|" +
                       f["stage"].GetString());
  }
  EXPECT_EQ(printed_keys, stored_keys);
  EXPECT_EQ(stored_keys.size(), one.Size());

  const auto& f = one[0];
  for (const char* key : {"id", "time", "priority", "rule", "auditID", "stage", "output", "tags"}) {
    EXPECT_TRUE(f.HasMember(key)) << key;
  }
  auto warning = findings(db, "--priority WARNING");
  EXPECT_LT(warning.Size(), one.Size());
  for (const auto& w : warning.GetArray()) {
    const std::string p = w["priority"].GetString();
    EXPECT_TRUE(p == "WARNING" || p == "ERROR" || p == "CRITICAL" || p == "ALERT" ||
                p == "EMERGENCY")
        << p;
  }
  auto by_rule = findings(db, "--rule 'Privileged or root container created'");
  ASSERT_GT(by_rule.Size(), 0u);
  CliRun show = run("findings show " + std::to_string(by_rule[0]["id"].GetInt64()) + " --db " +
                    db.string() + " -o json");
  EXPECT_EQ(show.status, 0) << show.err;
  EXPECT_TRUE(has(show.out, "Privileged or root container created"));
  EXPECT_NE(run("findings show 999999 --db " + db.string()).status, 0);

  // Findings appear in the timeline, beside the audit events they are about.
  CliRun timeline = run("query timeline --db " + db.string() + " -o json --limit 0");
  ASSERT_EQ(timeline.status, 0) << timeline.err;
  rapidjson::Document rows;
  ASSERT_TRUE(ktrail::json::parse(timeline.out, &rows).is_ok());
  bool found = false;
  for (const auto& row : rows.GetArray()) {
    found = found || (std::string(row["source"].GetString()) == "finding" &&
                      std::string(row["what"].GetString()) == "Privileged or root container created");
  }
  EXPECT_TRUE(found)
      << timeline.out.substr(0, 2000);
  // With -o name, a finding row is named as `findings list` names it; streamed or held alike.
  CliRun names = run("query timeline --db " + db.string() + " -o name --limit 0");
  CliRun held = run("query timeline --db " + db.string() + " -o name --limit 100000000");
  EXPECT_EQ(names.out, held.out);
  CliRun listed = run("findings list --db " + db.string() + " -o name --limit 0");
  std::size_t finding_rows = 0;
  for (std::size_t at = names.out.find("finding/"); at != std::string::npos;
       at = names.out.find("finding/", at + 1)) {
    const std::string line = names.out.substr(at, names.out.find('\n', at) - at);
    EXPECT_TRUE(has(listed.out, line + "\n")) << line;
    ++finding_rows;
  }
  EXPECT_GT(finding_rows, 0u);

  const fs::path off = dir_ / "off.db";
  ASSERT_EQ(run("ingest --db " + off.string() + " --detect-rules none " + kTrace).status, 0);
  EXPECT_EQ(findings(off).Size(), 0u);
}

TEST_F(DetectCli, RulesSeeTheEventAsReceivedAndFindingsAreRedacted) {
  // A policy that keeps only metadata: the stored event loses its request object, the rule
  // still sees it. A Secret's value in the output is redacted like the stored event.
  const fs::path policy = write("p.yaml",
                                "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
                                "- level: Metadata\n");
  const fs::path rules = write(
      "r.yaml",
      "- rule: secret written\n  desc: d\n  condition: ka.target.resource=secrets and "
      "ka.verb=create\n  output: data=%jevt.value[/requestObject/data]\n  priority: INFO\n"
      "  source: k8s_audit\n"
      "- rule: host network\n  desc: d\n  condition: ka.req.pod.host_network=true\n"
      "  output: pod %ka.target.name\n  priority: WARNING\n  source: k8s_audit\n");
  const std::string secret =
      R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"s-1",)"
      R"("stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/secrets","verb":"create",)"
      R"("user":{"username":"alice"},"objectRef":{"resource":"secrets","namespace":"prod","name":"db","apiVersion":"v1"},)"
      R"("responseStatus":{"code":201},"requestObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},)"
      R"("data":{"password":"aHVudGVyMg=="}},"requestReceivedTimestamp":"2026-03-01T12:00:00.000000Z",)"
      R"("stageTimestamp":"2026-03-01T12:00:00.100000Z"})";
  const std::string pod =
      R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"p-1",)"
      R"("stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/pods","verb":"create",)"
      R"("user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"prod","name":"web","apiVersion":"v1"},)"
      R"("responseStatus":{"code":201},"requestObject":{"kind":"Pod","spec":{"hostNetwork":true,)"
      R"("containers":[{"name":"a","image":"nginx"}]}},"requestReceivedTimestamp":"2026-03-01T12:00:01.000000Z",)"
      R"("stageTimestamp":"2026-03-01T12:00:01.100000Z"})";
  const fs::path input = write("in.jsonl", secret + "\n" + pod + "\n");
  const fs::path db = dir_ / "k.db";
  CliRun r = run("ingest --db " + db.string() + " --policy " + policy.string() +
                 " --detect-rules " + rules.string() + " " + input.string());
  ASSERT_EQ(r.status, 0) << r.err;
  auto f = findings(db);
  ASSERT_EQ(f.Size(), 2u) << r.err;
  const std::string all = ktrail::json::to_compact(f);
  EXPECT_FALSE(has(all, "aHVudGVyMg==")) << all;
  EXPECT_TRUE(has(all, "<redacted: 12 bytes>")) << all;
  EXPECT_TRUE(has(all, "pod web")) << all;
  // The stored event itself kept only metadata.
  CliRun sql = run("sql --db " + db.string() +
                   " \"SELECT level FROM audit_events WHERE audit_id = 'p-1'\"");
  EXPECT_TRUE(has(sql.out, "Metadata")) << sql.out << sql.err;
}

}  // namespace
