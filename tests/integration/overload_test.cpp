// `ktrail serve` under hostile or unlucky load, over real sockets: a client holding every
// connection slot, half-sent headers, a slow upload past the body limit, and a slow store.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A plain TCP connection from a chosen loopback address (127.0.0.2 is another peer to the server).
class RawConnection {
 public:
  RawConnection(const std::string& from, std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, from.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0 &&
          ::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return ok_; }
  // False when the connection is broken (EPIPE, ECONNRESET): the failure these tests look for.
  bool send(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Reads until the peer closes, `until` appears, or the deadline; returns what was read.
  std::string read(std::chrono::milliseconds timeout, const std::string& until = "") {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline && (until.empty() || out.find(until) == std::string::npos)) {
      pollfd p{fd_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) {
        continue;
      }
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  // Whether the server closed the connection within `timeout` (reading and dropping any data).
  bool closed_within(std::chrono::milliseconds timeout) {
    read(timeout);
    return closed_;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  bool closed_ = false;
};

long long metric_value(const std::string& metrics, const std::string& series) {
  const auto at = metrics.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::stoll(metrics.substr(at + series.size() + 2));
}

class OverloadTest : public ::testing::Test {
 protected:
  bool start(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--db", dir_.file("ktrail.db")};
    args.insert(args.end(), extra.begin(), extra.end());
    return server_.start(args);
  }
  std::string metrics_from(const std::string& address) {
    RawConnection c(address, server_.port());
    c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    return "\n" + c.read(std::chrono::seconds(10));
  }
  ClientOptions client() const {
    ClientOptions o;
    o.port = server_.port();
    return o;
  }

  TempDir dir_;
  ServeProcess server_;
};

std::string post_header(std::size_t length) {
  return "POST /audit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(length) + "\r\n\r\n";
}

TEST_F(OverloadTest, ALegitimateClientIsServedWhenAnotherHoldsEverySlot) {
  // One address takes every slot the server has: half the connections idle, half inside a
  // request header. A second client must still be answered at once (the longest-waiting
  // connection is shed for it), not after the idle or header timeouts.
  constexpr int kLimit = 48;
  ASSERT_TRUE(start({"--max-connections", std::to_string(kLimit), "--max-connections-per-peer",
                     std::to_string(kLimit), "--header-timeout", "60s", "--idle-timeout", "120s"}))
      << server_.stderr_text();
  std::vector<std::unique_ptr<RawConnection>> hostile;
  for (int i = 0; i < kLimit; ++i) {
    hostile.push_back(std::make_unique<RawConnection>("127.0.0.1", server_.port()));
    ASSERT_TRUE(hostile.back()->ok());
    if (i % 2 == 1) {
      ASSERT_TRUE(hostile.back()->send("POST /audit HTTP/1.1\r\nHost: x\r\nContent-Le"));
    }
  }
  const auto start = Clock::now();
  RawConnection legit("127.0.0.2", server_.port());
  ASSERT_TRUE(legit.ok());
  const std::string body = event_list("legit", 3);
  ASSERT_TRUE(legit.send(post_header(body.size()) + body));
  const std::string answer = legit.read(std::chrono::seconds(20), "\"stored\":3");
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_LT(seconds_since(start), 10.0);  // the timeouts are 60 s and 120 s
  const std::string metrics = metrics_from("127.0.0.2");
  EXPECT_GE(metric_value(metrics, "ktrail_http_connections_shed_total"), 2) << metrics;
  // The oldest hostile connections were the ones closed.
  EXPECT_TRUE(hostile[0]->closed_within(std::chrono::seconds(10)));
  EXPECT_TRUE(hostile[1]->closed_within(std::chrono::seconds(10)));
}

TEST_F(OverloadTest, ConnectionsPerAddressAreBounded) {
  ASSERT_TRUE(start({"--max-connections-per-peer", "8"})) << server_.stderr_text();
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 20; ++i) {
    held.push_back(std::make_unique<RawConnection>("127.0.0.1", server_.port()));
    ASSERT_TRUE(held.back()->ok());
  }
  // The connections past the eighth are closed at once; the first eight stay open.
  int refused = 0;
  for (int i = 8; i < 20; ++i) {
    refused += held[static_cast<std::size_t>(i)]->closed_within(std::chrono::seconds(10)) ? 1 : 0;
  }
  EXPECT_EQ(refused, 12);
  EXPECT_FALSE(held[0]->closed_within(std::chrono::milliseconds(200)));
  // Another address is served normally, and the refusals are counted.
  const std::string metrics = metrics_from("127.0.0.2");
  EXPECT_EQ(metric_value(metrics, "ktrail_http_connections_refused_total{reason=\"per_peer\"}"),
            12)
      << metrics;
}

TEST_F(OverloadTest, HalfSentHeadersGetTheHeaderTimeoutIdleConnectionsTheIdleTimeout) {
  ASSERT_TRUE(start({"--header-timeout", "1s", "--idle-timeout", "60s"})) << server_.stderr_text();
  RawConnection kept("127.0.0.1", server_.port());
  ASSERT_TRUE(kept.ok());
  ASSERT_TRUE(kept.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(kept.read(std::chrono::seconds(10), "ok").find("200"), std::string::npos);
  const auto start = Clock::now();
  RawConnection half("127.0.0.1", server_.port());
  RawConnection silent("127.0.0.1", server_.port());
  ASSERT_TRUE(half.send("POST /audit HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_TRUE(half.closed_within(std::chrono::seconds(20)));
  EXPECT_TRUE(silent.closed_within(std::chrono::seconds(20)));
  EXPECT_LT(seconds_since(start), 15.0);
  // The idle keep-alive connection is still open and usable; a header begun on it later gets
  // the header timeout again.
  ASSERT_TRUE(kept.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(kept.read(std::chrono::seconds(10), "ok").find("200"), std::string::npos);
}

TEST_F(OverloadTest, SlowUploadPastTheLimitReadsA413) {
  // The client keeps uploading for longer than any fixed drain: it must be able to finish
  // without a broken pipe, and read the 413.
  ASSERT_TRUE(start({"--max-body-bytes", "10000"})) << server_.stderr_text();
  constexpr std::size_t kLength = 60'000;
  RawConnection c("127.0.0.1", server_.port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(post_header(kLength)));
  const auto start = Clock::now();
  std::size_t sent = 0;
  const std::string piece(1000, ' ');
  bool broken = false;
  while (sent < kLength && !broken) {
    broken = !c.send(piece);
    sent += piece.size();
    // Spread the upload over about 4 s: poll() paces it (and reads nothing: answers stay queued).
    ::poll(nullptr, 0, 65);
  }
  EXPECT_FALSE(broken) << "broken pipe after " << sent << " bytes, " << seconds_since(start)
                       << " s";
  EXPECT_GT(seconds_since(start), 3.0);
  const std::string answer = c.read(std::chrono::seconds(10));
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_NE(answer.find("over the limit"), std::string::npos) << answer;

  // Chunked, without a length: the limit is found mid-body; the client keeps sending a while.
  RawConnection chunked("127.0.0.1", server_.port());
  ASSERT_TRUE(chunked.send(
      "POST /audit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "3e8\r\n" + piece + "\r\n";
  broken = false;
  for (int i = 0; i < 50 && !broken; ++i) {
    broken = !chunked.send(chunk);
    ::poll(nullptr, 0, 65);
  }
  EXPECT_FALSE(broken);
  const std::string chunked_answer = chunked.read(std::chrono::seconds(10));
  EXPECT_EQ(chunked_answer.rfind("HTTP/1.1 413", 0), 0u) << chunked_answer;
}

TEST_F(OverloadTest, SlowStoreAnswers503BeforeTheClientGivesUpAndLosesNothing) {
  // Another connection holds the store's write lock: the batch cannot commit. The server must
  // answer 503 with Retry-After after --ack-timeout (not after the store's 5 s lock wait, nor
  // the client's 30 s), keep the batch queued, and store it once the lock is free.
  ASSERT_TRUE(start({"--ack-timeout", "1s"})) << server_.stderr_text();
  sqlite3* lock = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("ktrail.db").c_str(), &lock), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(lock, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  HttpClient http(client());
  const std::string body = event_list("slow", 5);
  const auto start = Clock::now();
  auto first = http.request("POST", "/audit?timeout=30s", body);
  const double waited = seconds_since(start);
  sqlite3_exec(lock, "ROLLBACK", nullptr, nullptr, nullptr);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(first->status, 503u) << first->body;
  EXPECT_FALSE(first->header("retry-after").empty());
  EXPECT_NE(first->body.find("--ack-timeout"), std::string::npos) << first->body;
  EXPECT_LT(waited, 4.5);  // before the store's own lock wait (5 s) would have ended it
  // The queued batch is written once the lock is gone: a retry finds every event stored.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  long long stored = 0;
  while (Clock::now() < deadline && stored < 5) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(lock, "SELECT count(*) FROM audit", -1, &stmt, nullptr);
    stored = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (stored < 5) {
      ::poll(nullptr, 0, 50);
    }
  }
  sqlite3_close(lock);
  EXPECT_EQ(stored, 5);
  auto retry = http.request("POST", "/audit", body);
  ASSERT_TRUE(retry.is_ok());
  EXPECT_EQ(retry->status, 200u) << retry->body;
  EXPECT_NE(retry->body.find("\"duplicates\":5"), std::string::npos) << retry->body;
  const std::string metrics = metrics_from("127.0.0.1");
  EXPECT_EQ(metric_value(metrics, "ktrail_pipeline_ack_timeouts_total"), 1) << metrics;
  server_.signal(SIGTERM);
  EXPECT_EQ(server_.wait_exit(), 0) << server_.stderr_text();
}

}  // namespace
}  // namespace ktrail::testing
