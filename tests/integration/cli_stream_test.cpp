// `query timeline --limit 0` and `incidents list --limit 0` stream their rows (memory does not
// grow with the answer); with a limit the answer is held and merged whole. Both must write the
// same bytes: checked here in every output form on real stores of several shards, with an
// incident and audit events found in two shards.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kData = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/";
const std::string kScenarios = kData + "scenarios/";

class Streamed : public ::testing::Test {
 protected:
  void SetUp() override {
    // a: a real log and real Events; b: a node goes NotReady, and a restart storm; c: a drain,
    // the same restart storm again (its incident and events in two shards) and part of the log.
    const std::vector<std::vector<std::string>> shards = {
        {kData + "audit2rbac-demo-raw-v1beta1.jsonl", kData + "sonobuoy-results-0.10-events.jsonl"},
        {kScenarios + "node-not-ready.audit.jsonl", kScenarios + "node-not-ready.events.jsonl",
         kScenarios + "restart-storm.audit.jsonl", kScenarios + "restart-storm.watch.jsonl"},
        {kScenarios + "node-drain.audit.jsonl", kScenarios + "node-drain.events.jsonl",
         kScenarios + "restart-storm.audit.jsonl", kScenarios + "restart-storm.watch.jsonl",
         kData + "audit2rbac-demo-v1.jsonl"}};
    const char* names[] = {"a.db", "b.db", "c.db"};
    std::filesystem::create_directories(dir_.file("shards"));
    for (std::size_t s = 0; s < shards.size(); ++s) {
      std::vector<std::string> args = {"ingest", "--db", dir_.file(std::string("shards/") + names[s])};
      args.insert(args.end(), shards[s].begin(), shards[s].end());
      auto r = run_ktrail(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    db_ = dir_.file("shards");
  }

  // The output of `command` with --limit 0 (streamed) and with a limit above the answer
  // (held): both, after checking they ran.
  std::pair<std::string, std::string> both(std::vector<std::string> command,
                                           const std::string& output) {
    command.insert(command.end(), {"--db", db_, "-o", output});
    auto streamed = command;
    streamed.insert(streamed.end(), {"--limit", "0"});
    auto held = command;
    held.insert(held.end(), {"--limit", "100000000"});
    auto s = run_ktrail(streamed);
    auto h = run_ktrail(held);
    EXPECT_EQ(s.exit_code, 0) << s.err;
    EXPECT_EQ(h.exit_code, 0) << h.err;
    EXPECT_EQ(s.err, h.err);
    return {s.out, h.out};
  }

  void expect_same(const std::vector<std::string>& command, const std::vector<std::string>& forms) {
    SCOPED_TRACE(command.back());
    for (const auto& form : forms) {
      auto [streamed, held] = both(command, form);
      EXPECT_EQ(streamed, held) << form;
      EXPECT_FALSE(streamed.empty()) << form;
    }
  }

  std::size_t rows(const std::vector<std::string>& command) {
    auto [json, unused] = both(command, "json");
    rapidjson::Document d;
    EXPECT_FALSE(d.Parse(json.c_str()).HasParseError());
    return d.IsArray() ? d.Size() : 0;
  }

  TempDir dir_;
  std::string db_;
};

const std::vector<std::string> kForms = {
    "json", "jsonl", "csv", "yaml", "name",
    // streams over the items, and a template that needs the whole list
    R"(jsonpath={range .items[*]}{.ref}{"\t"}{.time}{"\n"}{end})",
    R"(jsonpath={range .items[*]}{.ref}{"\t"}{.id}{"\t"}{.start}{"\n"}{end})",
    "jsonpath={.items[-1]}"};

TEST_F(Streamed, TimelineWritesTheSameBytesAsAHeldOne) {
  const std::vector<std::vector<std::string>> commands = {
      {"query", "timeline"},
      {"query", "timeline", "--stages", "all"},
      {"query", "timeline", "--node", "worker-3"},
      {"query", "timeline", "--node", "worker-3", "--all", "--stages", "all"},
      {"query", "timeline", "--namespace", "shop"},
      {"query", "timeline", "--reason", "BackOff"},
      {"query", "timeline", "--verb", "delete"}};
  for (const auto& command : commands) {
    expect_same(command, kForms);
  }
  // The whole timeline of every stage is larger than the width-measuring head of a table (so
  // the table is not compared); the node's fits.
  EXPECT_GT(rows({"query", "timeline", "--stages", "all"}), 1000u);
  const std::vector<std::string> node = {"query", "timeline", "--node", "worker-3"};
  ASSERT_LT(rows(node), 1000u);
  expect_same(node, {"table", "wide"});
  // Every source is there.
  auto [names, unused] = both({"query", "timeline"}, "name");
  for (const std::string kind : {"audit/", "event/", "incident/"}) {
    EXPECT_NE(names.find("\n" + kind), std::string::npos) << kind;
  }
}

TEST_F(Streamed, IncidentsListWritesTheSameBytesAsAHeldOne) {
  const std::vector<std::vector<std::string>> commands = {
      {"incidents", "list"}, {"incidents", "list", "--kind", "restart-storm"},
      {"incidents", "list", "--namespace", "shop"}};
  for (const auto& command : commands) {
    expect_same(command, kForms);
    expect_same(command, {"table", "wide"});
  }
  // The restart storm is in shards b and c, and listed once.
  auto [names, unused] = both({"incidents", "list", "--kind", "restart-storm"}, "name");
  EXPECT_EQ(std::count(names.begin(), names.end(), '\n'), 1) << names;
}

}  // namespace
}  // namespace ktrail::testing
