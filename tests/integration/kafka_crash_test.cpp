// Crash and outage scenarios against the real broker, with process-role members running as
// separate processes (tests/support/kafka_member_main.cpp) so they can be killed with SIGKILL:
//  - two members share the partitions; one is SIGKILLed mid-stream; the other takes over; every
//    acknowledged event ends up stored exactly once across the two shards;
//  - the same with real incident signals (tests/support/incident_stream.h): the incidents of the
//    two shards, read together, equal those of one embedded `ktrail serve` given the same input;
//  - the broker is stopped for 20 s while batches keep coming: the producer refuses or fails
//    them (the webhook's 503), recovers by itself when the broker is back, and nothing that was
//    acknowledged is lost.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "queue/kafka_producer.h"
#include "storage/store.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"
#include "tests/support/stream_check.h"

namespace ktrail {
namespace {

using namespace std::chrono_literals;
using testing::audit_event;
using testing::wait_until;

// A member process; SIGKILLed and reaped by the destructor if still running.
class Member {
 public:
  Member(const std::string& prefix, const std::filesystem::path& shard,
         const std::filesystem::path& log) {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      execl(KTRAIL_KAFKA_MEMBER, KTRAIL_KAFKA_MEMBER, testing::kafka_brokers().c_str(),
            prefix.c_str(), (prefix + "-group").c_str(), shard.c_str(), nullptr);
      _exit(127);
    }
  }
  ~Member() { kill_now(SIGKILL); }
  void kill_now(int sig) {
    if (pid_ > 0) {
      ::kill(pid_, sig);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
};

std::int64_t stored_in(const std::filesystem::path& shard) {
  if (!std::filesystem::exists(shard)) {
    return 0;
  }
  StoreOptions options;
  options.read_only = true;
  auto store = Store::open(shard.string(), options);
  if (!store) {
    return 0;  // not created yet
  }
  auto counts = (*store)->counts();
  return counts ? counts->audit : 0;
}

// Sends batches of `per_batch` new audit events until `stop`; counts acknowledged events.
struct Sender {
  Sender(kafka::KafkaProducer* producer, std::string run, int per_batch)
      : producer_(producer), run_(std::move(run)), per_batch_(per_batch) {}

  // One batch, waiting for its answer; returns whether it was acknowledged.
  bool send_one() {
    Batch batch;
    const int first = next_;
    for (int i = 0; i < per_batch_; ++i) {
      batch.audit.push_back(audit_event(run_, first + i));
    }
    std::mutex m;
    std::condition_variable cv;
    bool finished = false;
    bool ok = false;
    const SubmitResult r =
        producer_->submit(std::move(batch), [&](const Status& s, const BatchOutcome&) {
          std::lock_guard lock(m);
          ok = s.is_ok();
          finished = true;
          cv.notify_all();
        });
    if (r != SubmitResult::kAccepted) {
      ++refused;
      // A refused batch is answered at once; pace the retries as kube-apiserver's back-off does.
      std::unique_lock lock(m);
      cv.wait_for(lock, 100ms, [] { return false; });
      return false;
    }
    std::unique_lock lock(m);
    EXPECT_TRUE(cv.wait_for(lock, 60s, [&] { return finished; }));
    if (ok) {
      next_ += per_batch_;  // acknowledged: these ids are owed to the store
      acknowledged += per_batch_;
    } else {
      ++failed;  // not acknowledged: the same ids are sent again, as a retry
    }
    return ok;
  }

  std::int64_t acknowledged = 0;
  int refused = 0;
  int failed = 0;

 private:
  kafka::KafkaProducer* producer_;
  std::string run_;
  int per_batch_;
  int next_ = 0;
};

TEST(KafkaCrash, SurvivorTakesOverAfterSigkillAndStoresEverythingOnce) {
  testing::TempDir dir;
  const std::string prefix = testing::unique_name("sigkill");
  kafka::ProducerOptions options;
  options.kafka.brokers = testing::kafka_brokers();
  options.kafka.topic_prefix = prefix;
  options.kafka.partitions = 4;
  auto producer = kafka::KafkaProducer::create(options);
  ASSERT_TRUE(producer.is_ok()) << producer.status().to_string();
  const auto shard_a = std::filesystem::path(dir.path()) / "a.db";
  const auto shard_b = std::filesystem::path(dir.path()) / "b.db";
  Member a(prefix, shard_a, std::filesystem::path(dir.path()) / "a.log");
  Member b(prefix, shard_b, std::filesystem::path(dir.path()) / "b.log");
  Sender sender(producer->get(), prefix, 100);

  // Mid-stream: keep sending until both members have stored something.
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while ((stored_in(shard_a) == 0 || stored_in(shard_b) == 0) &&
         std::chrono::steady_clock::now() < deadline) {
    sender.send_one();
  }
  ASSERT_GT(stored_in(shard_a), 0);
  ASSERT_GT(stored_in(shard_b), 0);
  for (int i = 0; i < 20; ++i) {
    sender.send_one();
  }
  a.kill_now(SIGKILL);
  for (int i = 0; i < 50; ++i) {
    sender.send_one();
  }
  const std::int64_t want = sender.acknowledged;
  EXPECT_TRUE(wait_until([&] { return stored_in(shard_a) + stored_in(shard_b) >= want; }, 120s))
      << stored_in(shard_a) << " + " << stored_in(shard_b) << " < " << want;
  EXPECT_EQ(stored_in(shard_a) + stored_in(shard_b), want);  // no duplicate across shards
  b.kill_now(SIGTERM);
}

// The JSON body of a POST /audit or /events carrying items [begin, end) of `s` (one kind).
std::string request_body(const testing::IncidentStream& s, std::size_t begin, std::size_t end) {
  const bool audit = s.items[begin].audit.has_value();
  std::string body = audit ? R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[)"
                           : R"({"kind":"EventList","apiVersion":"v1","items":[)";
  for (std::size_t i = begin; i < end; ++i) {
    body += (i == begin ? "" : ",") + (audit ? s.items[i].audit->json : s.items[i].event->json);
  }
  return body + "]}";
}

// The incidents of one embedded `ktrail serve` (no Kafka) given `s` batch by batch, as the
// webhook would receive it.
std::vector<Incident> embedded_run(const testing::IncidentStream& s, const std::string& db) {
  testing::ServeProcess serve;
  EXPECT_TRUE(serve.start({"--db", db, "--listen", "127.0.0.1:0"})) << serve.stderr_text();
  testing::ClientOptions client_options;
  client_options.port = serve.port();
  testing::HttpClient client(client_options);
  for (const auto& [begin, end] : s.batches(0, s.items.size(), 20)) {
    const char* target = s.items[begin].audit ? "/audit" : "/events";
    auto r = client.request("POST", target, request_body(s, begin, end));
    EXPECT_TRUE(r.is_ok() && r->status == 200u) << (r ? r->body : r.status().to_string());
  }
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(), 0) << serve.stderr_text();
  StoreOptions options;
  options.read_only = true;
  auto store = Store::open(db, options);
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  if (!store) return {};
  auto found = (*store)->find_incidents({});
  EXPECT_TRUE(found.is_ok());
  return found ? *found : std::vector<Incident>{};
}

std::vector<Incident> incidents_in(const std::string& shard, bool open_only) {
  StoreOptions options;
  options.read_only = true;
  auto store = Store::open(shard, options);
  if (!store) return {};
  IncidentFilter filter;
  filter.open_only = open_only;
  auto found = (*store)->find_incidents(filter);
  return found ? *found : std::vector<Incident>{};
}

TEST(KafkaCrash, IncidentsAfterASigkillTakeoverEqualASingleProcessRun) {
  const testing::IncidentStream stream = testing::incident_stream(4);
  testing::TempDir dir;
  const auto want = embedded_run(stream, dir.file("embedded.db"));
  ASSERT_EQ(want.size(), 2u + 2 * 4u);  // drains, storms, node episodes

  const std::string prefix = testing::unique_name("sigkill-incidents");
  kafka::ProducerOptions options;
  options.kafka.brokers = testing::kafka_brokers();
  options.kafka.topic_prefix = prefix;
  options.kafka.partitions = 4;
  auto producer = kafka::KafkaProducer::create(options);
  ASSERT_TRUE(producer.is_ok()) << producer.status().to_string();
  const auto shards_dir = std::filesystem::path(dir.path()) / "shards";
  std::filesystem::create_directories(shards_dir);
  const std::string shard_a = (shards_dir / "a.db").string();
  const std::string shard_b = (shards_dir / "b.db").string();
  Member a(prefix, shard_a, std::filesystem::path(dir.path()) / "a.log");
  Member b(prefix, shard_b, std::filesystem::path(dir.path()) / "b.log");

  // Up to 09:30, when every partition has a restart storm and a node episode open; both
  // members store their share.
  const std::size_t cut = stream.index_of(*parse_rfc3339("2026-03-01T09:30:00Z"));
  ASSERT_TRUE(testing::send_range(**producer, stream, 0, cut, 20));
  EXPECT_TRUE(wait_until(
      [&] {
        return stored_in(shard_a) > 0 && stored_in(shard_b) > 0 &&
               testing::shards_hold({shard_a, shard_b}, stream, cut);
      },
      120s));
  const auto open_in_a = incidents_in(shard_a, true);
  ASSERT_FALSE(open_in_a.empty());  // A dies in the middle of its episodes
  // Mid-stream: more batches on their way while A is killed.
  const std::size_t more = std::min(stream.items.size(), cut + 60);
  ASSERT_TRUE(testing::send_range(**producer, stream, cut, more, 20));
  a.kill_now(SIGKILL);
  ASSERT_TRUE(testing::send_range(**producer, stream, more, stream.items.size(), 20));
  EXPECT_TRUE(wait_until(
      [&] {
        return testing::shards_hold({shard_a, shard_b}, stream, stream.items.size());
      },
      120s));
  b.kill_now(SIGTERM);

  StoreOptions read_only;
  read_only.read_only = true;
  auto shards = app::ShardSet::open({shard_a, shard_b}, read_only);
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  auto got = shards->find_incidents({});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(testing::summary(*got), testing::summary(want));
  // B continued what A left open (same IDs), rather than starting those episodes again.
  std::set<std::string> in_b;
  for (const auto& i : incidents_in(shard_b, false)) in_b.insert(i.id);
  for (const auto& i : open_in_a) {
    EXPECT_EQ(in_b.count(i.id), 1u) << i.id << " " << i.title;
  }
}

TEST(KafkaCrash, BrokerStoppedFor20sNothingAcknowledgedIsLost) {
  testing::TempDir dir;
  const std::string prefix = testing::unique_name("outage");
  kafka::ProducerOptions options;
  options.kafka.brokers = testing::kafka_brokers();
  options.kafka.topic_prefix = prefix;
  options.kafka.partitions = 4;
  options.ack_timeout = 3s;
  options.probe_interval = 500ms;
  auto producer = kafka::KafkaProducer::create(options);
  ASSERT_TRUE(producer.is_ok()) << producer.status().to_string();
  const auto shard = std::filesystem::path(dir.path()) / "p.db";
  Member member(prefix, shard, std::filesystem::path(dir.path()) / "p.log");
  Sender sender(producer->get(), prefix, 50);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(sender.send_one());
  }

  ASSERT_EQ(testing::kafka_script("down"), 0);
  // 20 s without a broker while batches keep coming: none may be acknowledged.
  const auto outage_end = std::chrono::steady_clock::now() + 20s;
  std::int64_t acknowledged_during = 0;
  while (std::chrono::steady_clock::now() < outage_end) {
    acknowledged_during += sender.send_one() ? 1 : 0;
  }
  EXPECT_EQ(acknowledged_during, 0);
  EXPECT_GT(sender.refused + sender.failed, 0);
  EXPECT_FALSE((*producer)->ready());
  ASSERT_EQ(testing::kafka_script("up"), 0);

  // Recovery on its own: batches are acknowledged again.
  EXPECT_TRUE(wait_until([&] { return (*producer)->ready(); }, 60s));
  int ok_after = 0;
  const auto recover_deadline = std::chrono::steady_clock::now() + 60s;
  while (ok_after < 20 && std::chrono::steady_clock::now() < recover_deadline) {
    ok_after += sender.send_one() ? 1 : 0;
  }
  EXPECT_EQ(ok_after, 20);
  const std::int64_t want = sender.acknowledged;
  EXPECT_TRUE(wait_until([&] { return stored_in(shard) >= want; }, 120s))
      << stored_in(shard) << " < " << want;
  EXPECT_EQ(stored_in(shard), want);
  member.kill_now(SIGTERM);
}

}  // namespace
}  // namespace ktrail
