// The command line fails loudly, on the real binary: the kind of stdin is detected as a file's
// is; YAML (kubectl -o yaml, multi-document recordings) is read; rejected input exits 3;
// misspelt commands and options get the nearest existing one; an inverted or zone-less time
// window is refused; read-only commands leave no -wal/-shm files; a missing --db directory is
// named; the exit codes are in --help and the README.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "storage/store.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kData = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/";

long long json_number(const std::string& body, const std::string& key) {
  const auto at = body.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size() + 3));
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// `kubectl get events -A -o json`: a List of the sonobuoy cluster's Events.
std::string events_list_json() {
  std::istringstream lines(read_file(kData + "sonobuoy-results-0.10-events.jsonl"));
  std::string doc = "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{},\"items\":[\n";
  std::string line;
  bool first = true;
  while (std::getline(lines, line)) {
    if (!line.empty()) {
      doc += (first ? "" : ",\n") + line;
      first = false;
    }
  }
  return doc + "\n]}\n";
}

TEST(LoudIngest, StdinKindIsDetectedLikeAFiles) {
  TempDir dir;
  const std::string lines = read_file(kData + "sonobuoy-results-0.10-events.jsonl");
  auto r = run_ktrail({"ingest", "--db", dir.file("a.db"), "-o", "json", "-"}, lines);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_number(r.out, "stored"), 214) << r.out;
  EXPECT_EQ(json_number(r.out, "rejected"), 0) << r.out;

  auto list = run_ktrail({"ingest", "--db", dir.file("b.db"), "-o", "json", "-"},
                         events_list_json());
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(json_number(list.out, "stored"), 214) << list.out;

  // Audit events on stdin still read as audit events.
  auto audit = run_ktrail({"ingest", "--db", dir.file("c.db"), "-o", "json", "-"},
                          read_file(kData + "audit2rbac-demo-v1.jsonl"));
  EXPECT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_EQ(json_number(audit.out, "stored"), 37) << audit.out;
}

TEST(LoudIngest, YamlListsAndDocumentsAreRead) {
  TempDir dir;
  // kubectl get events -A -o yaml, on stdin and as a file: the same 214 Events as the JSON.
  const std::string yaml = read_file(kData + "yaml/sonobuoy-events-list.yaml");
  auto in = run_ktrail({"ingest", "--db", dir.file("a.db"), "-o", "json", "-"}, yaml);
  EXPECT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(json_number(in.out, "stored"), 214) << in.out;
  auto again = run_ktrail(
      {"ingest", "--db", dir.file("a.db"), "-o", "json", kData + "yaml/sonobuoy-events-list.yaml"});
  EXPECT_EQ(json_number(again.out, "duplicates"), 214) << again.out;
  // The YAML and JSON readings store the same Events.
  auto json = run_ktrail({"ingest", "--db", dir.file("j.db"), "-o", "json",
                          kData + "sonobuoy-results-0.10-events.jsonl"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const std::string q = "SELECT uid, reason, count, first_time, last_time FROM kube_events ORDER BY uid";
  auto from_yaml = run_ktrail({"sql", "--db", dir.file("a.db"), "-o", "csv", q});
  auto from_json = run_ktrail({"sql", "--db", dir.file("j.db"), "-o", "csv", q});
  ASSERT_EQ(from_yaml.exit_code, 0) << from_yaml.err;
  EXPECT_EQ(from_yaml.out, from_json.out);

  // An audit EventList in YAML: the same 37 events as the JSON lines.
  auto audit = run_ktrail({"ingest", "--db", dir.file("b.db"), "-o", "json",
                           kData + "yaml/audit2rbac-demo-v1-eventlist.yaml"});
  EXPECT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_EQ(json_number(audit.out, "stored"), 37) << audit.out;
  auto by_user = run_ktrail({"query", "audit", "--db", dir.file("b.db"), "--user", "bob",
                             "-o", "csv", "--limit", "0"});
  EXPECT_EQ(by_user.exit_code, 0) << by_user.err;
  EXPECT_GT(std::count(by_user.out.begin(), by_user.out.end(), '\n'), 1);

  // A multi-document recording of watch traffic: the 19 Events stored, the 7 other objects
  // rejected, each naming its document and line.
  auto rec = run_ktrail({"ingest", "--db", dir.file("c.db"), "-o", "json",
                         kData + "kspan-kind-deployment-2-pods-recording.yaml"});
  EXPECT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_EQ(json_number(rec.out, "stored"), 19) << rec.out;
  EXPECT_EQ(json_number(rec.out, "rejected"), 7) << rec.out;
  auto reasons = run_ktrail({"sql", "--db", dir.file("c.db"), "-o", "csv",
                             "SELECT reason FROM dead_letters ORDER BY id"});
  EXPECT_TRUE(has(reasons.out, "YAML document 2 (line 52): not a Kubernetes Event: kind is "
                               "'ReplicaSet'"))
      << reasons.out;
}

TEST(LoudIngest, RejectedAndNothingStoredExitsThree) {
  TempDir dir;
  // Events read as audit events (--kind audit): all rejected, exit 3, the count said.
  auto forced = run_ktrail({"ingest", "--db", dir.file("a.db"), "--kind", "audit", "-"},
                           read_file(kData + "sonobuoy-results-0.10-events.jsonl"));
  EXPECT_EQ(forced.exit_code, 3) << forced.out << forced.err;
  EXPECT_TRUE(has(forced.out, "rejected 214")) << forced.out;
  EXPECT_TRUE(has(forced.err, "214 items rejected")) << forced.err;

  // JSON that is neither kind, and YAML with --kind events of something else.
  auto other = run_ktrail({"ingest", "--db", dir.file("a.db"), "-"}, "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_EQ(other.exit_code, 3) << other.out << other.err;
  auto pods = run_ktrail({"ingest", "--db", dir.file("a.db"), "--kind", "events", "-"},
                         "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n");
  EXPECT_EQ(pods.exit_code, 3) << pods.out << pods.err;

  // Some stored, some rejected: 0 by default, 3 with --fail-on-reject.
  const std::string mixed = read_file(kData + "audit2rbac-demo-v1.jsonl") + "not json at all\n";
  auto lenient = run_ktrail({"ingest", "--db", dir.file("m.db"), "-"}, mixed);
  EXPECT_EQ(lenient.exit_code, 0) << lenient.err;
  auto strict = run_ktrail({"ingest", "--db", dir.file("n.db"), "--fail-on-reject", "-"}, mixed);
  EXPECT_EQ(strict.exit_code, 3) << strict.err;
  EXPECT_TRUE(has(strict.out, "stored 37, duplicates 0, rejected 1")) << strict.out;

  // A replay with one bad line accepted the rest as duplicates: not a failure.
  auto replay = run_ktrail({"ingest", "--db", dir.file("m.db"), "-"}, mixed);
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;

  // Empty input: nothing to do, nothing wrong.
  EXPECT_EQ(run_ktrail({"ingest", "--db", dir.file("e.db"), "-"}, "").exit_code, 0);
}

TEST(LoudIngest, HostileYamlFailsFastWithoutLosingTheRest) {
  TempDir dir;
  // Aliases that would expand to hundreds of GB of JSON: refused as one rejected document.
  std::string bomb = "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n";
  for (char c = 'b'; c <= 'l'; ++c) {
    const char p = static_cast<char>(c - 1);
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) {
      bomb += std::string(i ? "," : "") + "*" + p;
    }
    bomb += "]\n";
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = run_ktrail({"ingest", "--db", dir.file("a.db"), "-"}, bomb);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  auto why = run_ktrail({"sql", "--db", dir.file("a.db"), "SELECT reason FROM dead_letters"});
  EXPECT_TRUE(has(why.out, "aliases expand")) << why.out;

  // Nesting deeper than the parser allows, a tab for indentation, an unclosed flow: exit 1,
  // naming the document and line; documents before the bad one are kept.
  auto deep = run_ktrail({"ingest", "--db", dir.file("b.db"), "-"},
                         "a: " + std::string(100000, '[') + "\n");
  EXPECT_EQ(deep.exit_code, 1);
  EXPECT_TRUE(has(deep.err, "YAML document 1")) << deep.err;
  const std::string good = read_file(kData + "yaml/sonobuoy-events-list.yaml");
  auto tab = run_ktrail({"ingest", "--db", dir.file("c.db"), "-o", "json", "-"},
                        good + "---\nkind: Event\n\tbad: tab\n");
  EXPECT_EQ(tab.exit_code, 1);
  EXPECT_TRUE(has(tab.err, "YAML document 2: line")) << tab.err;
  EXPECT_EQ(json_number(tab.out, "stored"), 214) << tab.out;

  // Binary garbage is still not a document.
  auto binary = run_ktrail({"ingest", "--db", dir.file("d.db"), "-"},
                           std::string("\x00\xff\xfe\x01 garbage: \n\x02\x03", 17));
  EXPECT_EQ(binary.exit_code, 1) << binary.out;
}

TEST(LoudCommands, MisspeltCommandsAndOptionsGetTheNearest) {
  auto audti = run_ktrail({"query", "audti"});
  EXPECT_EQ(audti.exit_code, 2);
  EXPECT_TRUE(has(audti.err, "did you mean 'query audit'?")) << audti.err;
  EXPECT_TRUE(has(audti.err, "audit, timeline")) << audti.err;
  EXPECT_FALSE(has(audti.err, "report compliance")) << "not the whole usage: " << audti.err;

  for (const auto& [group, subs] : {std::pair{"query", "audit, timeline"},
                                    std::pair{"incidents", "list, show"},
                                    std::pair{"policy", "check, lint"}}) {
    auto bare = run_ktrail({group});
    EXPECT_EQ(bare.exit_code, 2) << group;
    EXPECT_TRUE(has(bare.err, std::string("'") + group + "' needs a subcommand: " + subs))
        << bare.err;
  }
  auto top = run_ktrail({"ingset", "x"});
  EXPECT_EQ(top.exit_code, 2);
  EXPECT_TRUE(has(top.err, "did you mean 'ingest'?")) << top.err;
  auto far = run_ktrail({"frobnicate"});
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_FALSE(has(far.err, "did you mean")) << far.err;
  EXPECT_TRUE(has(far.err, "commands: serve, ingest")) << far.err;

  auto usr = run_ktrail({"query", "audit", "--usr", "bob"});
  EXPECT_EQ(usr.exit_code, 2);
  EXPECT_TRUE(has(usr.err, "unknown option '--usr'; did you mean '--user'?")) << usr.err;
  auto reject = run_ktrail({"ingest", "--fial-on-reject", "-"});
  EXPECT_EQ(reject.exit_code, 2);
  EXPECT_TRUE(has(reject.err, "did you mean '--fail-on-reject'?")) << reject.err;
  auto serve = run_ktrail({"serve", "--lisen", "127.0.0.1:0"});
  EXPECT_EQ(serve.exit_code, 2);
  EXPECT_TRUE(has(serve.err, "did you mean '--listen'?")) << serve.err;
}

class LoudQueries : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("k.db");
    auto r = run_ktrail({"ingest", "--db", db_, kData + "audit2rbac-demo-v1.jsonl",
                         kData + "sonobuoy-results-0.10-events.jsonl"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir dir_;
  std::string db_;
};

TEST_F(LoudQueries, InvertedAndZonelessWindowsAreRefused) {
  const std::vector<std::vector<std::string>> commands = {
      {"query", "audit"}, {"query", "timeline"}, {"incidents", "list"},
      {"findings", "list"}, {"report", "compliance"}};
  for (auto args : commands) {
    args.insert(args.end(), {"--db", db_, "--since", "1h", "--until", "2h"});
    auto r = run_ktrail(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << ": " << r.out;
    EXPECT_TRUE(has(r.err, "is after --until 2h")) << r.err;
  }
  auto local = run_ktrail({"query", "audit", "--db", db_, "--since", "2017-09-11T20:00:00"});
  EXPECT_EQ(local.exit_code, 2);
  EXPECT_TRUE(has(local.err, "has no time zone")) << local.err;
  EXPECT_TRUE(has(local.err, "2017-09-11T20:00:00Z")) << local.err;

  // A bare date is midnight UTC; 1w is a week back.
  auto day = run_ktrail({"query", "audit", "--db", db_, "--since", "2017-09-11", "--until",
                         "2017-09-12", "-o", "csv", "--limit", "0"});
  EXPECT_EQ(day.exit_code, 0) << day.err;
  EXPECT_EQ(std::count(day.out.begin(), day.out.end(), '\n'), 38) << day.out;
  auto before = run_ktrail({"query", "audit", "--db", db_, "--until", "2017-09-11", "-o", "csv"});
  EXPECT_EQ(std::count(before.out.begin(), before.out.end(), '\n'), 1) << before.out;
  EXPECT_EQ(run_ktrail({"query", "audit", "--db", db_, "--since", "1w"}).exit_code, 0);
}

TEST_F(LoudQueries, ReadOnlyCommandsLeaveNoWalOrShm) {
  ASSERT_EQ(files_in(dir_.path()), std::vector<std::string>{"k.db"});
  const std::vector<std::vector<std::string>> commands = {
      {"query", "audit", "--db", db_},
      {"query", "timeline", "--db", db_},
      {"incidents", "list", "--db", db_},
      {"findings", "list", "--db", db_},
      {"report", "compliance", "--db", db_, "--since", "3000d"},
      {"sql", "--db", db_, "SELECT count(*) FROM kube_events"}};
  for (const auto& args : commands) {
    auto r = run_ktrail(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    EXPECT_EQ(files_in(dir_.path()), std::vector<std::string>{"k.db"}) << args[0] << " " << args[1];
  }

  // While a writer has the store open, its -wal and -shm stay, and it goes on writing.
  auto writer = Store::open(db_, StoreOptions{});
  ASSERT_TRUE(writer.is_ok());
  auto before = run_ktrail({"sql", "--db", db_, "SELECT count(*) AS n FROM kube_events"});
  EXPECT_TRUE(std::filesystem::exists(db_ + "-wal"));
  EXPECT_TRUE(std::filesystem::exists(db_ + "-shm"));
  auto more = run_ktrail({"ingest", "--db", db_, "-o", "json", "-"},
                         read_file(kData + "audit2rbac-demo-raw-v1beta1.jsonl"));
  EXPECT_EQ(more.exit_code, 0) << more.err;
  EXPECT_GT(json_number(more.out, "stored"), 0);
  auto counts = (*writer)->counts();
  ASSERT_TRUE(counts.is_ok());
  EXPECT_GT(counts->audit, 37);
}

TEST(LoudStore, AMissingDirectoryIsNamed) {
  TempDir dir;
  const std::string db = dir.file("shards/a.db");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"query", "audit", "--db", db}, {"incidents", "list", "--db", db},
           {"ingest", "--db", db, "-"}}) {
    auto r = run_ktrail(args, "");
    EXPECT_EQ(r.exit_code, 1) << args[0];
    EXPECT_TRUE(has(r.err, "directory " + dir.file("shards") + " does not exist")) << r.err;
  }
}

TEST(LoudHelp, EveryExitCodeIsDocumented) {
  auto help = run_ktrail({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  const std::string readme = read_file(std::string(KTRAIL_SOURCE_DIR) + "/README.md");
  for (const char* code : {"0", "1", "2", "3"}) {
    EXPECT_TRUE(has(help.out, std::string("\n  ") + code + "  ")) << code << "\n" << help.out;
    EXPECT_TRUE(has(readme, std::string("| ") + code + " |")) << "README lacks exit code " << code;
  }
  auto ingest_help = run_ktrail({"ingest", "--help"});
  EXPECT_TRUE(has(ingest_help.out, "exit codes:")) << ingest_help.out;
  EXPECT_TRUE(has(ingest_help.out, "--fail-on-reject")) << ingest_help.out;
}

}  // namespace
}  // namespace ktrail::testing
