// A finished Event dump replayed through the Kafka roles (the real binary, the real broker) gives
// the incidents `ktrail ingest` gives of the same file: the process role releases what
// correlation holds back once its partitions go quiet, and at SIGTERM. A store that does not
// belong to the deployment, placed beside the shard, is not restored from.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/json.h"
#include "storage/shard_identity.h"
#include "storage/store.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace ktrail {
namespace {

using namespace std::chrono_literals;
using testing::wait_until;

const std::string kDump =
    std::string(KTRAIL_SOURCE_DIR) + "/tests/data/openshift-mustgather-metal-events.jsonl";

std::int64_t events_in(const std::string& shard) {
  if (!std::filesystem::exists(shard)) {
    return 0;
  }
  StoreOptions options;
  options.read_only = true;
  auto store = Store::open(shard, options);
  if (!store) {
    return 0;
  }
  auto counts = (*store)->counts();
  return counts ? counts->kube_events : 0;
}

// Every incident, one CSV line each (id, kind, title, start, end, objects, count, ...).
std::string incidents_of(const std::string& db) {
  auto r = testing::run_ktrail({"incidents", "list", "--db", db, "--limit", "0", "-o", "csv"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

std::size_t lines_of(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The dump in pieces of `lines` lines, as a client would post it.
std::vector<std::string> pieces(const std::string& path, std::size_t lines) {
  std::istringstream in(testing::read_file(path));
  std::vector<std::string> out(1);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (n == lines) {
      out.emplace_back();
      n = 0;
    }
    out.back() += line + "\n";
    ++n;
  }
  return out;
}

struct Replay {
  testing::TempDir dir;
  std::string shard;
  std::string embedded;  // `ktrail ingest` of the dump
  std::int64_t events = 0;
};

// Ingests the dump into an embedded store (the reference), then starts `ktrail serve --role
// all` in Kafka mode with `extra` flags and posts the whole dump to it.
void replay(Replay& r, testing::ServeProcess& serve, const std::vector<std::string>& extra) {
  r.embedded = r.dir.file("embedded.sqlite");
  auto ingested = testing::run_ktrail({"ingest", "--db", r.embedded, "--progress", "never", kDump});
  ASSERT_EQ(ingested.exit_code, 0) << ingested.err;
  r.events = events_in(r.embedded);
  ASSERT_GT(r.events, 5000);
  ASSERT_GT(lines_of(incidents_of(r.embedded)), 30u);

  std::filesystem::create_directories(r.dir.file("shards"));
  r.shard = r.dir.file("shards/process-0.db");
  std::vector<std::string> args = {"--role",
                                   "all",
                                   "--kafka-brokers",
                                   testing::kafka_brokers(),
                                   "--kafka-topic-prefix",
                                   testing::unique_name("replay"),
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--db",
                                   r.shard};
  args.insert(args.end(), extra.begin(), extra.end());
  ASSERT_TRUE(serve.start(args)) << serve.stderr_text();
  testing::ClientOptions client_options;
  client_options.port = serve.port();
  client_options.timeout = 30s;
  testing::HttpClient client(client_options);
  ASSERT_TRUE(wait_until(
      [&] {
        auto ready = client.request("GET", "/readyz");
        return ready && ready->status == 200;
      },
      60s));
  for (const std::string& body : pieces(kDump, 500)) {
    auto posted = client.request("POST", "/events", body);
    ASSERT_TRUE(posted.is_ok()) << posted.status().to_string();
    ASSERT_EQ(posted->status, 200u) << posted->body;
  }
  EXPECT_TRUE(wait_until([&] { return events_in(r.shard) >= r.events; }, 120s))
      << events_in(r.shard) << " of " << r.events;
}

// Open incidents of another store: an embedded store that ingested part of a restart storm.
void place_unrelated_store(const std::string& path) {
  std::istringstream in(
      testing::read_file(std::string(KTRAIL_SOURCE_DIR) +
                         "/tests/data/scenarios/restart-storm.watch.jsonl"));
  std::string storm;
  for (std::string line; std::getline(in, line);) {
    if (line.find(R"("reason":"Starting")") == std::string::npos) {
      storm += line + "\n";
    }
  }
  const std::string file = path + ".jsonl";
  testing::write_file(file, storm);
  auto r = testing::run_ktrail({"ingest", "--db", path, "--progress", "never", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto open = testing::run_ktrail({"incidents", "list", "--db", path, "--open", "-o", "csv"});
  ASSERT_EQ(open.exit_code, 0) << open.err;
  ASSERT_EQ(lines_of(open.out), 2u) << open.out;  // the storm, open
}

// With one partition the process role correlates the stream as one process does, so once the
// partition is quiet its incidents are exactly those of `ktrail ingest` of the same file: no
// signal stays held in the reorder window. They are there while the server still runs (the
// quiet partition released them), and the same after SIGTERM.
TEST(KafkaReplay, AQuietPartitionReleasesTheIncidentsOfAFinishedDump) {
  Replay r;
  std::filesystem::create_directories(r.dir.file("shards"));
  place_unrelated_store(r.dir.file("shards/unrelated.db"));
  testing::ServeProcess serve;
  replay(r, serve, {"--kafka-partitions", "1", "--kafka-idle-after", "3s"});
  const std::string want = incidents_of(r.embedded);
  EXPECT_TRUE(wait_until([&] { return incidents_of(r.shard) == want; }, 60s))
      << "kafka:\n"
      << incidents_of(r.shard) << "\ningest:\n"
      << want;
  // The unrelated store's open storm was not adopted.
  EXPECT_EQ(incidents_of(r.shard).find("checkout"), std::string::npos);
  EXPECT_NE(serve.stderr_text().find("unrelated.db (records no Kafka deployment)"),
            std::string::npos)
      << serve.stderr_text();
  EXPECT_NE(serve.stderr_text().find("on any of 1 partitions: released what processing held"),
            std::string::npos)
      << serve.stderr_text();
  EXPECT_NE(serve.stderr_text().find("kafka: restored from the store for partitions 0 of 1"),
            std::string::npos)
      << serve.stderr_text();
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(), 0) << serve.stderr_text();
  EXPECT_EQ(incidents_of(r.shard), want);
  auto identity = read_shard_identity_file(r.shard);
  ASSERT_TRUE(identity.is_ok() && identity->has_value());
  EXPECT_EQ((*identity)->group, "ktrail-process");
}

// Nothing goes quiet long enough here (an hour): what correlation holds is released by SIGTERM
// alone, and the stopped member's incidents are those of the replay.
TEST(KafkaReplay, SigtermReleasesWhatCorrelationHolds) {
  Replay r;
  testing::ServeProcess serve;
  replay(r, serve, {"--kafka-partitions", "1", "--kafka-idle-after", "1h"});
  const std::string want = incidents_of(r.embedded);
  const std::string before = incidents_of(r.shard);
  EXPECT_NE(before, want) << "the last reorder window should still be held";
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(), 0) << serve.stderr_text();
  EXPECT_EQ(incidents_of(r.shard), want);
}

// The pods named by the incidents of a store.
std::set<std::string> objects_of(const std::string& db) {
  auto r = testing::run_ktrail({"incidents", "list", "--db", db, "--limit", "0", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document doc;
  std::set<std::string> out;
  if (!json::parse(r.out, &doc).is_ok() || !doc.IsArray()) {
    ADD_FAILURE() << r.out;
    return out;
  }
  for (const auto& incident : doc.GetArray()) {
    for (const auto& object : incident["objects"].GetArray()) {
      out.insert(object.GetString());
    }
  }
  return out;
}

std::string open_in(const std::string& db) {
  auto r = testing::run_ktrail(
      {"incidents", "list", "--db", db, "--open", "--limit", "0", "-o", "csv"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// Several partitions split the stream by key, so incidents that group workloads of different
// partitions are not one process's (docs/kafka.md). But no partition holds its incidents back
// once quiet: every pod an incident of `ktrail ingest` names is in an incident of the replay,
// and none is left open that ingest closed.
TEST(KafkaReplay, SeveralQuietPartitionsReleaseTheirIncidents) {
  Replay r;
  testing::ServeProcess serve;
  replay(r, serve, {"--kafka-partitions", "4", "--kafka-idle-after", "2s"});
  const std::set<std::string> want = objects_of(r.embedded);
  ASSERT_GT(want.size(), 30u);
  auto covered = [&] {
    const std::set<std::string> got = objects_of(r.shard);
    return std::includes(got.begin(), got.end(), want.begin(), want.end());
  };
  const std::string open_after_ingest = open_in(r.embedded);
  EXPECT_TRUE(wait_until([&] { return covered() && open_in(r.shard) == open_after_ingest; }, 60s))
      << incidents_of(r.shard);
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(), 0) << serve.stderr_text();
}

}  // namespace
}  // namespace ktrail
