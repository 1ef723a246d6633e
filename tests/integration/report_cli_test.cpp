// `ktrail query audit` filters and `ktrail report compliance`, run as the real binary on the
// audit2rbac demo logs (requests by system:admin impersonating bob, alice and a service
// account, several of them denied), and the HTML report rendered by headless Chromium.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "core/json.h"

namespace {

namespace fs = std::filesystem;

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

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

class ReportCli : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ktrail-report-cli-" + std::to_string(::getpid()) + "-" +
            std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "k.db").string();
    // The same files as ../shared/data/, kept in the repository.
    const std::string log = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + GetParam();
    ASSERT_TRUE(fs::exists(log)) << log;
    const CliRun ingest = run("ingest --db " + db_ + " " + log);
    ASSERT_EQ(ingest.status, 0) << ingest.err;
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliRun run(const std::string& args) {
    const fs::path out = dir_ / "out", err = dir_ / "err";
    const std::string cmd = std::string(KTRAIL_BINARY) + " " + args + " </dev/null >" +
                            out.string() + " 2>" + err.string();
    CliRun r;
    const int rc = std::system(cmd.c_str());
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  rapidjson::Document json_of(const CliRun& r) {
    rapidjson::Document doc;
    EXPECT_TRUE(ktrail::json::parse(r.out, &doc).is_ok()) << r.out;
    return doc;
  }

  fs::path dir_;
  std::string db_;
};

TEST_P(ReportCli, UserMatchesTheImpersonatedUserAndAuthenticatedUserDoesNot) {
  CliRun r = run("query audit --db " + db_ + " --user bob --limit 0 -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  rapidjson::Document doc = json_of(r);
  ASSERT_TRUE(doc.IsArray());
  EXPECT_EQ(doc.Size(), 29u);
  for (const auto& row : doc.GetArray()) {
    EXPECT_STREQ(row["user"].GetString(), "system:admin");
    EXPECT_STREQ(row["impersonatedUser"].GetString(), "bob");
  }
  r = run("query audit --db " + db_ + " --authenticated-user bob -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_of(r).Size(), 0u);
  r = run("query audit --db " + db_ + " --authenticated-user system:admin --limit 0 -o json");
  EXPECT_EQ(json_of(r).Size(), 37u);
  // The table names who acted as whom.
  r = run("query audit --db " + db_ + " --user alice");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count_of(r.out, "system:admin (as alice)"), 3) << r.out;
}

TEST_P(ReportCli, MultiValuedVerbAndCodeFilters) {
  CliRun r = run("query audit --db " + db_ + " --code 4xx --limit 0 -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  rapidjson::Document doc = json_of(r);
  EXPECT_EQ(doc.Size(), 11u);
  std::set<std::string> denied;
  for (const auto& row : doc.GetArray()) {
    EXPECT_EQ(row["code"].GetInt(), 403);
    denied.insert(row["impersonatedUser"].GetString());
  }
  EXPECT_EQ(denied, (std::set<std::string>{"alice", "bob", "system:serviceaccount:ns1:sa1"}));
  r = run("query audit --db " + db_ + " --code 401,403 --limit 0 -o json");
  EXPECT_EQ(json_of(r).Size(), 11u);
  r = run("query audit --db " + db_ + " --code 200-299 --limit 0 -o json");
  EXPECT_EQ(json_of(r).Size(), 26u);
  r = run("query audit --db " + db_ + " --verb get,watch --limit 0 -o json");
  doc = json_of(r);
  ASSERT_GT(doc.Size(), 0u);
  for (const auto& row : doc.GetArray()) {
    const std::string verb = row["verb"].GetString();
    EXPECT_TRUE(verb == "get" || verb == "watch") << verb;
  }
  const auto get_watch = doc.Size();
  r = run("query audit --db " + db_ + " --verb get,list,watch --limit 0 -o json");
  EXPECT_GT(json_of(r).Size(), get_watch);
  r = run("query audit --db " + db_ + " --code 4x");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("'4x' is not a response code"), std::string::npos) << r.err;
}

TEST_P(ReportCli, SaysHowManyRowsTheLimitLeftOut) {
  // Every stage: the count of matching events comes with the rows.
  CliRun r = run("query audit --db " + db_ + " --limit 5 -o json --stages all");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_of(r).Size(), 5u);
  EXPECT_NE(r.err.find("showing the 5 most recent of 37 matching events (32 left out"),
            std::string::npos)
      << r.err;
  // One row per request: the requests are counted as far as they are read, and the message
  // says where the count of every matching event is.
  r = run("query audit --db " + db_ + " --limit 5 -o json");
  EXPECT_EQ(json_of(r).Size(), 5u);
  EXPECT_NE(r.err.find("showing the 5 most recent requests; older ones were left out"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--stages all counts every matching event"), std::string::npos) << r.err;
  // Driven by the user's postings and the impersonation index.
  r = run("query audit --db " + db_ + " --user bob --code 403 --limit 1 -o json --stages all");
  EXPECT_NE(r.err.find("of 4 matching events (3 left out"), std::string::npos) << r.err;
  r = run("query audit --db " + db_ + " --limit 0 -o json");
  EXPECT_EQ(r.err, "");
}

TEST_P(ReportCli, ComplianceReportNamesWhoActedAsWhom) {
  CliRun r = run("report compliance --db " + db_ +
                 " --since 2017-09-11T00:00:00Z --until 2017-09-11T23:00:00Z -o json "
                 "--details --framework soc2");
  ASSERT_EQ(r.status, 0) << r.err;
  rapidjson::Document doc = json_of(r);
  const auto& sections = doc["sections"];
  std::map<std::string, std::int64_t> impersonated;
  for (const auto& row : sections["impersonation"]["rows"].GetArray()) {
    EXPECT_STREQ(row["user"].GetString(), "system:admin");
    impersonated[row["impersonatedUser"].GetString()] = row["count"].GetInt64();
  }
  EXPECT_EQ(impersonated, (std::map<std::string, std::int64_t>{
                              {"alice", 3}, {"bob", 29}, {"system:serviceaccount:ns1:sa1", 5}}));
  EXPECT_EQ(sections["denied-requests"]["total"].GetInt64(), 11);
  // The audit IDs behind bob's denied row are those `query audit` finds.
  CliRun q = run("query audit --db " + db_ + " --user bob --code 403 -o json");
  std::set<std::string> expected;
  const rapidjson::Document bob_denied = json_of(q);
  for (const auto& row : bob_denied.GetArray()) {
    expected.insert(row["auditID"].GetString());
  }
  bool found = false;
  for (const auto& row : sections["denied-requests"]["rows"].GetArray()) {
    if (std::string(row["impersonatedUser"].GetString()) == "bob") {
      std::set<std::string> ids;
      for (const auto& id : row["auditIDs"].GetArray()) {
        ids.insert(id.GetString());
      }
      EXPECT_EQ(ids, expected);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_STREQ(sections["denied-requests"]["controls"][0].GetString(), "SOC 2 CC6.1");
  // The log covers 19:55-20:30 with a pause: the report says it cannot vouch for the rest.
  bool gap_warning = false;
  for (const auto& w : doc["warnings"].GetArray()) {
    gap_warning = gap_warning ||
                  std::string(w.GetString()).find("between 2017-09-11T20:02:00.000000Z and "
                                                  "2017-09-11T20:27:00.000000Z") !=
                      std::string::npos;
  }
  EXPECT_TRUE(gap_warning);
  EXPECT_EQ(sections["coverage"]["policies"].Size(), 1u);  // the ingest's processing settings

  r = run("report compliance --db " + db_ + " --since 2017-09-11T00:00:00Z -o md --out " +
          (dir_ / "r.md").string());
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string md = slurp(dir_ / "r.md");
  EXPECT_NE(md.find("| impersonation | 37 |"), std::string::npos) << md;
  r = run("report compliance --db " + db_ + " -o pdf");
  EXPECT_EQ(r.status, 2);
  r = run("report compliance --db " + db_ + " --framework hipaa");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("pci-dss, soc2 or none"), std::string::npos);
}

// The HTML page in a real browser: headless Chromium loads it with networking features off,
// the rendered DOM has the report's text, and a screenshot goes to the test's output folder.
TEST_P(ReportCli, HtmlRendersInChromium) {
  const fs::path page = dir_ / "report.html";
  CliRun r = run("report compliance --db " + db_ +
                 " --since 2017-09-11T00:00:00Z --until 2017-09-11T23:00:00Z --framework "
                 "pci-dss -o html --out " +
                 page.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string chromium = "chromium";
  ASSERT_EQ(std::system((chromium + " --version >/dev/null 2>&1").c_str()), 0)
      << "chromium is not installed (scripts/install-deps.sh installs it)";
  const std::string flags =
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--user-data-dir=";
  const fs::path dom = dir_ / "dom.html";
  std::string cmd = chromium + flags + (dir_ / "profile-dom").string() + " --dump-dom file://" +
                    page.string() + " >" + dom.string() + " 2>" + (dir_ / "chromium.err").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(dir_ / "chromium.err");
  const std::string rendered = slurp(dom);
  for (const char* text :
       {"Compliance report", "The report cannot vouch for everything", "PCI DSS 10.2.1.4",
        "system:admin", "system:serviceaccount:ns1:sa1", "Top actors by events",
        "denied-requests: Denied requests (11)", "impersonation: Impersonation (37)"}) {
    EXPECT_NE(rendered.find(text), std::string::npos) << text;
  }
  EXPECT_GE(count_of(rendered, "<svg"), 4);

  const fs::path out_dir = fs::path(KTRAIL_BINARY).parent_path().parent_path() / "test-output" /
                           "report_cli_test";
  fs::create_directories(out_dir);
  const fs::path shot = out_dir / (std::string("report-") + GetParam() + ".png");
  fs::remove(shot);
  cmd = chromium + flags + (dir_ / "profile-shot").string() +
        " --window-size=1280,3000 --screenshot=" + shot.string() + " file://" + page.string() +
        " >/dev/null 2>" + (dir_ / "chromium.err").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(dir_ / "chromium.err");
  ASSERT_TRUE(fs::exists(shot));
  const std::string png = slurp(shot);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
}

// The raw v1beta1 log of the same demo holds the same impersonated requests among 757 events.
TEST_P(ReportCli, RawV1beta1LogNamesTheSameIdentities) {
  const std::string db = (dir_ / "raw.db").string();
  CliRun r = run("ingest --db " + db + " " + std::string(KTRAIL_SOURCE_DIR) +
                 "/tests/data/audit2rbac-demo-raw-v1beta1.jsonl");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run("report compliance --db " + db + " --since 2017-09-11T00:00:00Z --until "
          "2017-09-11T23:00:00Z -o json");
  ASSERT_EQ(r.status, 0) << r.err;
  rapidjson::Document doc = json_of(r);
  std::map<std::string, std::int64_t> denied;
  for (const auto& row : doc["sections"]["denied-requests"]["rows"].GetArray()) {
    denied[row["impersonatedUser"].GetString()] += row["count"].GetInt64();
  }
  EXPECT_EQ(denied, (std::map<std::string, std::int64_t>{
                        {"alice", 3}, {"bob", 4}, {"system:serviceaccount:ns1:sa1", 4}}));
  r = run("query audit --db " + db + " --user bob --code 403 --limit 2 --stages all");
  EXPECT_EQ(count_of(r.out, "system:admin (as bob)"), 2) << r.out;
  EXPECT_NE(r.err.find("of 4 matching events (2 left out"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Audit2rbacDemo, ReportCli, ::testing::Values("audit2rbac-demo-v1.jsonl"),
                         [](const auto&) { return std::string("v1"); });

}  // namespace
