// End to end with the real binaries and the real broker: `ktrail serve --role ingest` takes
// webhooks and produces to Kafka, `ktrail serve --role process` consumes and writes its shard;
// every event of every acknowledged request is stored exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "storage/store.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace ktrail {
namespace {

using namespace std::chrono_literals;
using testing::wait_until;

std::int64_t stored_in(const std::string& shard) {
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
  return counts ? counts->audit : 0;
}

std::vector<std::string> kafka_args(const std::string& role, const std::string& prefix) {
  return {"--role",
          role,
          "--kafka-brokers",
          testing::kafka_brokers(),
          "--kafka-topic-prefix",
          prefix,
          "--kafka-partitions",
          "4",
          "--listen",
          "127.0.0.1:0",
          "--ack-timeout",
          "5s"};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(KafkaServe, WebhookToKafkaToStoreExactlyOnce) {
  testing::TempDir dir;
  const std::string prefix = testing::unique_name("serve");
  const std::string shard = dir.file("process-0.db");
  testing::ServeProcess process;
  ASSERT_TRUE(
      process.start(kafka_args("process", prefix) + std::vector<std::string>{"--db", shard}))
      << process.stderr_text();
  testing::ServeProcess ingest;
  ASSERT_TRUE(ingest.start(kafka_args("ingest", prefix))) << ingest.stderr_text();

  testing::ClientOptions client_options;
  client_options.port = ingest.port();
  testing::HttpClient client(client_options);
  EXPECT_TRUE(wait_until(
      [&] {
        auto r = client.request("GET", "/readyz");
        return r && r->status == 200;
      },
      30s));

  std::int64_t acknowledged = 0;
  for (int b = 0; b < 30; ++b) {
    const std::string body = testing::event_list(prefix + "-" + std::to_string(b), 100);
    // Each request twice: kube-apiserver retries, and the store must absorb the repeat.
    for (int copy = 0; copy < 2; ++copy) {
      auto r = client.request("POST", "/audit", body);
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      ASSERT_EQ(r->status, 200u) << r->body;
    }
    acknowledged += 100;
  }
  EXPECT_TRUE(wait_until([&] { return stored_in(shard) >= acknowledged; }, 60s))
      << stored_in(shard) << " < " << acknowledged;

  auto metrics = client.request("GET", "/metrics");
  ASSERT_TRUE(metrics.is_ok());
  EXPECT_NE(metrics->body.find("ktrail_kafka_producer_queue_messages"), std::string::npos);
  EXPECT_NE(metrics->body.find("ktrail_kafka_delivered_total"), std::string::npos);

  ingest.signal(SIGTERM);
  EXPECT_EQ(ingest.wait_exit(), 0);
  process.signal(SIGTERM);
  EXPECT_EQ(process.wait_exit(), 0) << process.stderr_text();
  EXPECT_EQ(stored_in(shard), acknowledged);

  // The shard directory queried as one store: every acknowledged event, once.
  auto query =
      testing::run_ktrail({"query", "audit", "--db", dir.path(), "--limit", "0", "-o", "csv",
                           "--stages", "all"});
  ASSERT_EQ(query.exit_code, 0) << query.err;
  const auto lines = std::count(query.out.begin(), query.out.end(), '\n');
  EXPECT_EQ(lines, acknowledged + 1);  // + the header
}

TEST(KafkaServe, IngestAnswers503WhileTheBrokerIsDownAndRecoversAlone) {
  testing::TempDir dir;
  const std::string prefix = testing::unique_name("outage");
  const std::string shard = dir.file("process-0.db");
  testing::ServeProcess process;
  ASSERT_TRUE(
      process.start(kafka_args("process", prefix) + std::vector<std::string>{"--db", shard}))
      << process.stderr_text();
  testing::ServeProcess ingest;
  ASSERT_TRUE(ingest.start(kafka_args("ingest", prefix))) << ingest.stderr_text();
  testing::ClientOptions client_options;
  client_options.port = ingest.port();
  client_options.timeout = 30s;
  testing::HttpClient client(client_options);

  int next = 0;
  std::int64_t acknowledged = 0;
  // Posts the next batch of 50; only a 200 moves on (a retry re-sends the same batch).
  auto post = [&]() -> unsigned {
    auto r = client.request("POST", "/audit",
                            testing::event_list(prefix + "-" + std::to_string(next), 50));
    if (!r.is_ok()) {
      client.close();
      return 0;
    }
    if (r->status == 200) {
      ++next;
      acknowledged += 50;
    } else {
      EXPECT_EQ(r->status, 503u) << r->body;
      EXPECT_FALSE(r->header("retry-after").empty());
    }
    return r->status;
  };
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(post(), 200u);
  }

  ASSERT_EQ(testing::kafka_script("down"), 0);
  const auto outage_end = std::chrono::steady_clock::now() + 20s;
  int answered_503 = 0;
  while (std::chrono::steady_clock::now() < outage_end) {
    const unsigned status = post();
    EXPECT_NE(status, 200u) << "acknowledged while the broker was down";
    answered_503 += status == 503 ? 1 : 0;
    if (status == 503) {
      // kube-apiserver backs off before retrying; wait for the readiness probe to change.
      wait_until([&] { return std::chrono::steady_clock::now() >= outage_end; }, 200ms);
    }
  }
  EXPECT_GT(answered_503, 0);
  auto ready = client.request("GET", "/readyz");
  ASSERT_TRUE(ready.is_ok());
  EXPECT_EQ(ready->status, 503u);
  ASSERT_EQ(testing::kafka_script("up"), 0);

  EXPECT_TRUE(wait_until([&] { return post() == 200; }, 60s)) << "no recovery";
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(post(), 200u);
  }
  EXPECT_TRUE(wait_until([&] { return stored_in(shard) >= acknowledged; }, 90s))
      << stored_in(shard) << " < " << acknowledged;
  ingest.signal(SIGTERM);
  EXPECT_EQ(ingest.wait_exit(), 0);
  process.signal(SIGTERM);
  EXPECT_EQ(process.wait_exit(), 0);
  EXPECT_EQ(stored_in(shard), acknowledged);  // nothing that got a 200 is lost, nothing twice
}

TEST(KafkaServe, RoleWithoutBrokersIsAUsageError) {
  auto r = testing::run_ktrail({"serve", "--role", "ingest", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--kafka-brokers"), std::string::npos) << r.err;
  r = testing::run_ktrail({"serve", "--role", "bogus", "--kafka-brokers", "127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--role"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ktrail
