// Durability across a crash: batches are sent concurrently, the server is killed with SIGKILL
// while batches are in flight, restarted on the same file, and every batch that was answered
// 200 must be in the store, each event exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/integration/store_check.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

constexpr int kClients = 4;
constexpr int kEventsPerBatch = 100;

std::string batch_prefix(int client, int batch) {
  return "crash-c" + std::to_string(client) + "-b" + std::to_string(batch);
}

TEST(CrashTest, EveryAcknowledgedBatchSurvivesKill9) {
  TempDir dir;
  const std::string db = dir.file("ktrail.db");
  ServeProcess first;
  ASSERT_TRUE(first.start({"--listen", "127.0.0.1:0", "--db", db})) << first.stderr_text();

  std::mutex mutex;
  std::condition_variable cv;
  std::set<std::string> acked;
  std::map<int, int> attempted;  // client -> batches sent (acknowledged or not)
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      ClientOptions o;
      o.port = first.port();
      HttpClient http(o);
      for (int b = 0; b < 100000; ++b) {
        {
          std::lock_guard lock(mutex);
          attempted[c] = b + 1;
        }
        auto r = http.request("POST", "/audit?timeout=30s",
                              event_list(batch_prefix(c, b), kEventsPerBatch));
        if (!r.is_ok()) {
          return;  // the server is gone
        }
        if (r->status == 200u) {
          std::lock_guard lock(mutex);
          acked.insert(batch_prefix(c, b));
          cv.notify_all();
        }
      }
    });
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return acked.size() >= 40; }));
  }
  first.signal(SIGKILL);  // clients are still sending: batches are in flight
  for (auto& t : clients) {
    t.join();
  }
  const int status = first.wait_exit();
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  // Restart on the same file: it must open cleanly and hold every acknowledged batch.
  ServeProcess second;
  ASSERT_TRUE(second.start({"--listen", "127.0.0.1:0", "--db", db})) << second.stderr_text();
  {
    StoreReader store(db);
    ASSERT_TRUE(store.ok());
    for (const auto& prefix : acked) {
      EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM audit WHERE audit_id LIKE '" + prefix + "-%'"),
                kEventsPerBatch)
          << prefix;
    }
    EXPECT_EQ(store.duplicate_rows(), 0);
  }
  // The apiserver retries what was not acknowledged (and may resend what was): every batch
  // attempted is resent, after which each event is stored exactly once.
  ClientOptions o;
  o.port = second.port();
  HttpClient http(o);
  long long total = 0;
  for (const auto& [c, n] : attempted) {
    for (int b = 0; b < n; ++b) {
      auto r = http.request("POST", "/audit", event_list(batch_prefix(c, b), kEventsPerBatch));
      ASSERT_TRUE(r.is_ok());
      ASSERT_EQ(r->status, 200u) << r->body;
      total += kEventsPerBatch;
    }
  }
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(), 0);
  StoreReader store(db);
  EXPECT_EQ(store.audit_rows(), total);
  EXPECT_EQ(store.duplicate_rows(), 0);
}

// SIGTERM while clients are sending: the server stops accepting, answers what it took, drains
// the queue and exits 0; every batch answered 200 is stored.
TEST(CrashTest, SigtermDrainsInFlightBatchesAndExitsZero) {
  TempDir dir;
  const std::string db = dir.file("ktrail.db");
  ServeProcess server;
  ASSERT_TRUE(server.start({"--listen", "127.0.0.1:0", "--db", db})) << server.stderr_text();
  std::mutex mutex;
  std::condition_variable cv;
  std::set<std::string> acked;
  std::vector<unsigned> other_statuses;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      ClientOptions o;
      o.port = server.port();
      HttpClient http(o);
      for (int b = 0; b < 100000; ++b) {
        auto r = http.request("POST", "/audit", event_list(batch_prefix(c, b), kEventsPerBatch));
        if (!r.is_ok()) {
          return;
        }
        std::lock_guard lock(mutex);
        if (r->status == 200u) {
          acked.insert(batch_prefix(c, b));
          cv.notify_all();
        } else {
          other_statuses.push_back(r->status);
        }
        if (!r->keep_alive) {
          return;  // the server is closing this connection: it is shutting down
        }
      }
    });
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return acked.size() >= 20; }));
  }
  server.signal(SIGTERM);
  for (auto& t : clients) {
    t.join();
  }
  EXPECT_EQ(server.wait_exit(), 0) << server.stderr_text();
  for (unsigned status : other_statuses) {
    EXPECT_EQ(status, 503u);  // refused while stopping, never lost silently
  }
  StoreReader store(db);
  for (const auto& prefix : acked) {
    EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM audit WHERE audit_id LIKE '" + prefix + "-%'"),
              kEventsPerBatch)
        << prefix;
  }
  EXPECT_EQ(store.duplicate_rows(), 0);
}

}  // namespace
}  // namespace ktrail::testing
