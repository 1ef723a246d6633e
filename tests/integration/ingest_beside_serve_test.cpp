// `ktrail ingest` while `ktrail serve` writes the same store: two writers of one SQLite file.
// Every batch the server acknowledged and every event the replay read must be stored exactly
// once, and both must finish cleanly (the server answers 503 when the other writer holds the
// store too long, and the test retries as kube-apiserver does).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/integration/store_check.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

TEST(IngestBesideServe, BothWritersStoreEverythingOnce) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  ServeProcess server;
  ASSERT_TRUE(server.start({"--listen", "127.0.0.1:0", "--db", db})) << server.stderr_text();

  // 30,000 events for the replay: 75 lines, each a whole EventList of 400.
  std::string log;
  for (int i = 0; i < 75; ++i) {
    log += event_list("ingest-" + std::to_string(i), 400) + "\n";
  }
  write_file(dir.file("replay.jsonl"), log);

  std::atomic<bool> failed{false};
  std::atomic<long long> acknowledged{0};
  std::thread webhook([&] {
    ClientOptions o;
    o.port = server.port();
    HttpClient http(o);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    for (int b = 0; b < 150 && !failed; ++b) {
      const std::string body = event_list("serve-" + std::to_string(b), 100);
      for (;;) {  // as kube-apiserver: the same batch again until it is acknowledged
        auto r = http.request("POST", "/audit?timeout=30s", body);
        if (r.is_ok() && r->status == 200) {
          acknowledged += 100;
          break;
        }
        if (!r.is_ok()) {
          http.close();
        }
        if (std::chrono::steady_clock::now() > deadline) {
          failed = true;
          return;
        }
      }
    }
  });
  auto replay = run_ktrail({"ingest", "--db", db, "-o", "json", dir.file("replay.jsonl")});
  webhook.join();
  EXPECT_FALSE(failed) << "the server never acknowledged a batch: " << server.stderr_text();
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_NE(replay.out.find("\"stored\":30000"), std::string::npos) << replay.out;
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.stderr_text();

  StoreReader store(db);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(acknowledged.load(), 15000);
  EXPECT_EQ(store.scalar("SELECT count(*) FROM audit WHERE audit_id LIKE 'serve-%'"), 15000);
  EXPECT_EQ(store.scalar("SELECT count(*) FROM audit WHERE audit_id LIKE 'ingest-%'"), 30000);
  EXPECT_EQ(store.scalar("SELECT count(*) - count(DISTINCT audit_id) FROM audit"), 0);
}

}  // namespace
}  // namespace ktrail::testing
