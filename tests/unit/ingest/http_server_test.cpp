// The webhook HTTP layer over real sockets on 127.0.0.1 (ephemeral ports), with a fake sink:
// the response contract, limits, hostile requests and keep-alive.
#include "ingest/http_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "core/metrics.h"
#include "ingest/routes.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"
#include "tests/unit/ingest/fake_sink.h"

namespace ktrail::ingest {
namespace {

using ktrail::testing::ClientOptions;
using ktrail::testing::event_list;
using ktrail::testing::FakeSink;
using ktrail::testing::HttpClient;

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    WebhookRoutesOptions routes;
    routes.sink = &sink_;
    auto built = webhook_routes(routes);
    ASSERT_TRUE(built.is_ok()) << built.status().to_string();
    auto server = HttpServer::create(options, std::move(*built));
    ASSERT_TRUE(server.is_ok()) << server.status().to_string();
    server_ = std::move(*server);
    server_->start();
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
    }
  }
  ClientOptions client_options() const {
    ClientOptions o;
    o.port = server_->port();
    o.timeout = std::chrono::seconds(10);
    return o;
  }

  FakeSink sink_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, StoresEventListAndAnswersWithCounts) {
  start();
  HttpClient client(client_options());
  auto r = client.request("POST", "/audit?timeout=30s", event_list("a", 3));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, R"({"stored":3,"duplicates":0,"rejected":0,"dropped":0})");
  const auto batches = sink_.received();
  ASSERT_EQ(batches.size(), 1u);
  const Batch& b = batches[0];
  ASSERT_EQ(b.audit.size(), 3u);
  EXPECT_EQ(b.audit[2].audit_id, "a-2");
  EXPECT_NE(b.origin.find("webhook 127.0.0.1:"), std::string::npos);
}

TEST_F(HttpServerTest, RootPathIsTheAuditEndpointAndOtherPathsAre404) {
  start();
  HttpClient client(client_options());
  auto root = client.request("POST", "/?timeout=30s", event_list("r", 1));
  ASSERT_TRUE(root.is_ok());
  EXPECT_EQ(root->status, 200u);
  auto other = client.request("POST", "/k8s-audit", event_list("x", 1));
  ASSERT_TRUE(other.is_ok());
  EXPECT_EQ(other->status, 404u);
  HttpClient second(client_options());  // a refused body closes its connection
  auto wrong_method = second.request("GET", "/audit");
  ASSERT_TRUE(wrong_method.is_ok());
  EXPECT_EQ(wrong_method->status, 405u);
  EXPECT_EQ(sink_.received().size(), 1u);
}

TEST_F(HttpServerTest, SingleEventAndV1beta1AreAccepted) {
  start();
  HttpClient client(client_options());
  auto single = client.request("POST", "/audit", testing::audit_item("one"));
  ASSERT_TRUE(single.is_ok());
  EXPECT_EQ(single->status, 200u);
  const std::string beta =
      R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1beta1","items":[{"level":"Metadata",)"
      R"("timestamp":"2018-01-01T00:00:00Z","auditID":"b1","stage":"ResponseComplete",)"
      R"("requestURI":"/api","verb":"get","user":{"username":"u"},)"
      R"("metadata":{"creationTimestamp":"2018-01-01T00:00:01Z"}}]})";
  auto b = client.request("POST", "/audit", beta);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->status, 200u) << b->body;
  ASSERT_EQ(sink_.received().size(), 2u);
  EXPECT_EQ(sink_.received()[1].audit.at(0).audit_id, "b1");
}

TEST_F(HttpServerTest, AnswersOnlyAfterTheSinkCompletes) {
  sink_.set_mode(FakeSink::Mode::kHold);
  start();
  auto reply = std::async(std::launch::async, [&] {
    HttpClient client(client_options());
    return client.request("POST", "/audit", event_list("h", 2));
  });
  ASSERT_TRUE(sink_.wait_received(1));
  // The batch is in the sink but not durable: no answer may come yet.
  EXPECT_EQ(reply.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  sink_.set_mode(FakeSink::Mode::kComplete);
  ASSERT_EQ(reply.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = reply.get();
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(sink_.completed(), 1u);
}

TEST_F(HttpServerTest, FullQueueIs429WithRetryAfter) {
  sink_.set_mode(FakeSink::Mode::kFull);
  start();
  HttpClient client(client_options());
  auto r = client.request("POST", "/audit", event_list("f", 2));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, 429u);
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_TRUE(r->keep_alive);
}

TEST_F(HttpServerTest, UnavailableAndFailedWritesAre503WithRetryAfter) {
  sink_.set_mode(FakeSink::Mode::kUnavailable);
  start();
  HttpClient client(client_options());
  auto r = client.request("POST", "/audit", event_list("u", 1));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, 503u);
  EXPECT_FALSE(r->header("retry-after").empty());
  sink_.set_mode(FakeSink::Mode::kFail);
  auto f = client.request("POST", "/audit", event_list("u", 1));
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f->status, 503u);
  EXPECT_NE(f->body.find("disk I/O error"), std::string::npos);
  EXPECT_FALSE(f->header("retry-after").empty());
}

TEST_F(HttpServerTest, MalformedJsonIs400WithOffsetAndNothingSubmitted) {
  start();
  HttpClient client(client_options());
  const std::string cases[] = {
      R"({"kind":"EventList","items":[{"auditID":)",  // truncated
      "{\"items\": [1, 2,]}",                         // syntax error
      "not json at all",
      "\"a scalar\"",
      R"({"kind":"EventList","items":{"not":"an array"}})",
      std::string(300, '[') + std::string(300, ']'),  // nesting beyond the limit
      std::string("{\"items\":[\"\xff\xfe\"]}"),      // invalid UTF-8
  };
  for (const auto& body : cases) {
    auto r = client.request("POST", "/audit", body);
    ASSERT_TRUE(r.is_ok()) << body;
    EXPECT_EQ(r->status, 400u) << body;
    EXPECT_NE(r->body.find("\"error\""), std::string::npos) << r->body;
  }
  auto r = client.request("POST", "/audit", "{\"items\": [1, 2,]}");
  EXPECT_NE(r->body.find("offset 16"), std::string::npos) << r->body;
  EXPECT_TRUE(sink_.received().empty());
}

TEST_F(HttpServerTest, BadItemsAreRejectedWhileGoodOnesAreSubmitted) {
  start();
  HttpClient client(client_options());
  const std::string body = R"({"kind":"EventList","items":[)" + testing::audit_item("good") +
                           R"(,{"level":"Metadata","stage":"ResponseComplete"},42]})";
  auto r = client.request("POST", "/audit", body);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, R"({"stored":1,"duplicates":0,"rejected":2,"dropped":0})");
  const auto batches = sink_.received();
  ASSERT_EQ(batches.size(), 1u);
  const Batch& b = batches[0];
  ASSERT_EQ(b.rejected.size(), 2u);
  EXPECT_NE(b.rejected[0].reason.find("auditID"), std::string::npos);
  EXPECT_EQ(b.rejected[1].raw, "42");
}

TEST_F(HttpServerTest, OversizedBodiesAre413) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  start(options);
  HttpClient client(client_options());
  auto r = client.request("POST", "/audit", event_list("big", 20));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 413u);
  EXPECT_FALSE(r->keep_alive);
  // Chunked: no Content-Length, the limit is hit while reading.
  HttpClient chunked(client_options());
  std::string chunk(2000, ' ');
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", chunk.size());
  ASSERT_TRUE(chunked
                  .write_raw("POST /audit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n" +
                             std::string(size) + "\r\n" + chunk + "\r\n0\r\n\r\n")
                  .is_ok());
  auto c = chunked.read_response();
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->status, 413u) << c->body;
  // Under the limit still works on a new connection.
  HttpClient small(client_options());
  auto ok = small.request("POST", "/audit", event_list("s", 1));
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok->status, 200u);
  EXPECT_EQ(sink_.received().size(), 1u);
}

TEST_F(HttpServerTest, NonJsonContentIs415) {
  start();
  HttpClient client(client_options());
  auto xml = client.request("POST", "/audit", "<x/>", {{"Content-Type", "application/xml"}});
  ASSERT_TRUE(xml.is_ok());
  EXPECT_EQ(xml->status, 415u);
  HttpClient c2(client_options());
  auto gz = c2.request("POST", "/audit", event_list("g", 1),
                       {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}});
  ASSERT_TRUE(gz.is_ok());
  EXPECT_EQ(gz->status, 415u);
  HttpClient c3(client_options());
  auto charset = c3.request("POST", "/audit", event_list("c", 1),
                            {{"Content-Type", "application/json; charset=utf-8"}});
  ASSERT_TRUE(charset.is_ok());
  EXPECT_EQ(charset->status, 200u);
  EXPECT_EQ(sink_.received().size(), 1u);
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  start();
  HttpClient client(client_options());
  for (int i = 0; i < 20; ++i) {
    auto r = client.request("POST", "/audit", event_list("k" + std::to_string(i), 2));
    ASSERT_TRUE(r.is_ok()) << i << ": " << r.status().to_string();
    ASSERT_EQ(r->status, 200u);
    EXPECT_TRUE(r->keep_alive);
  }
  EXPECT_EQ(sink_.received().size(), 20u);
}

TEST_F(HttpServerTest, HealthReadinessAndMetrics) {
  start();
  HttpClient client(client_options());
  auto h = client.request("GET", "/healthz");
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->status, 200u);
  auto ready = client.request("GET", "/readyz");
  ASSERT_TRUE(ready.is_ok());
  EXPECT_EQ(ready->status, 200u);
  sink_.set_ready(false);
  auto not_ready = client.request("GET", "/readyz");
  ASSERT_TRUE(not_ready.is_ok());
  EXPECT_EQ(not_ready->status, 503u);
  ASSERT_TRUE(client.request("POST", "/audit", event_list("m", 1)).is_ok());
  auto m = client.request("GET", "/metrics");
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->status, 200u);
  EXPECT_NE(m->body.find("ktrail_http_responses_total{code=\"200\"}"), std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find("ktrail_ingest_items_received_total"), std::string::npos);
}

TEST_F(HttpServerTest, GarbageAndHugeHeadersAreRefusedWithoutCrash) {
  start();
  HttpClient garbage(client_options());
  ASSERT_TRUE(garbage.write_raw("\x16\x03\x01 this is not HTTP\r\n\r\n").is_ok());
  const std::string answer = garbage.read_until_close();
  EXPECT_NE(answer.find("400"), std::string::npos) << answer;

  HttpClient huge(client_options());
  ASSERT_TRUE(huge.write_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                             std::string(64 * 1024, 'a') + "\r\n\r\n")
                  .is_ok());
  const std::string big = huge.read_until_close();
  EXPECT_NE(big.find("431"), std::string::npos) << big.substr(0, 200);

  // The server still works.
  HttpClient client(client_options());
  auto r = client.request("POST", "/audit", event_list("after", 1));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, 200u);
}

// A client that goes away before or in the middle of a request header is not answered, and no
// answer is counted; bytes that are not HTTP still get their 400 (above).
TEST_F(HttpServerTest, ConnectionClosedBeforeARequestCountsNoResponse) {
  start();
  Metric& bad = MetricsRegistry::global().get("ktrail_http_responses_total", MetricType::kCounter,
                                              "HTTP responses sent, by status code",
                                              "code=\"400\"");
  const std::int64_t before = bad.value();
  {
    HttpClient silent(client_options());
    ASSERT_TRUE(silent.connect().is_ok());
    silent.close();
  }
  {
    HttpClient half(client_options());
    ASSERT_TRUE(half.write_raw("POST /audit HTTP/1.1\r\nHost: x\r\nContent-Ty").is_ok());
    half.close();
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(server_->open_connections(), 0u) << "the server did not see the connections end";
  EXPECT_EQ(bad.value(), before);
}

TEST_F(HttpServerTest, SlowBodyHitsTheReadTimeout) {
  HttpServerOptions options;
  options.read_timeout = std::chrono::milliseconds(300);
  start(options);
  HttpClient slow(client_options());
  ASSERT_TRUE(slow.write_raw("POST /audit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Content-Length: 1000\r\n\r\n{\"items\":[")
                  .is_ok());
  const auto started = std::chrono::steady_clock::now();
  const std::string answer = slow.read_until_close();
  // The server gave up on the request (closed the connection) long before the client's own
  // 10 s timeout, and answered nothing that could look like success.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(answer.find("200 OK"), std::string::npos) << answer;
  EXPECT_TRUE(sink_.received().empty());
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionsAreClosed) {
  HttpServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(200);
  start(options);
  HttpClient client(client_options());
  auto r = client.request("GET", "/healthz");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->keep_alive);
  const auto started = std::chrono::steady_clock::now();
  const std::string rest = client.read_until_close();  // returns when the server closes
  EXPECT_TRUE(rest.empty()) << rest;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST_F(HttpServerTest, ExpectContinueIsHonoured) {
  start();
  HttpClient client(client_options());
  auto r = client.request("POST", "/audit", event_list("e", 1), {{"Expect", "100-continue"}});
  ASSERT_TRUE(r.is_ok());
  // The client reads the interim 100 first; the final answer follows on the same connection.
  if (r->status == 100) {
    r = client.read_response();
    ASSERT_TRUE(r.is_ok());
  }
  EXPECT_EQ(r->status, 200u);
}

TEST_F(HttpServerTest, StopAcceptingClosesKeptAliveConnectionsAfterTheirAnswer) {
  start();
  HttpClient client(client_options());
  auto first = client.request("POST", "/audit", event_list("d", 1));
  ASSERT_TRUE(first.is_ok());
  EXPECT_TRUE(first->keep_alive);
  server_->stop_accepting();
  auto second = client.request("POST", "/audit", event_list("d2", 1));
  ASSERT_TRUE(second.is_ok());
  EXPECT_FALSE(second->keep_alive);
  EXPECT_TRUE(server_->wait_idle(std::chrono::seconds(5)));
}

// A handler may still hold its Responder when the server goes away (a pipeline that finishes
// a batch after shutdown). Stopping ends the waiting connection at once, and the late answer,
// or the Responder's destruction, touches nothing of the freed server (ASan checks this).
TEST_F(HttpServerTest, AnAnswerAfterTheServerIsGoneTouchesNothing) {
  sink_.set_mode(FakeSink::Mode::kHold);
  start();
  auto reply = std::async(std::launch::async, [&] {
    HttpClient client(client_options());
    return client.request("POST", "/audit", event_list("late", 1));
  });
  ASSERT_TRUE(sink_.wait_received(1));
  server_.reset();
  // The client's own timeout is 10 s: the connection must be closed well before it.
  ASSERT_EQ(reply.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_FALSE(reply.get().is_ok());
  sink_.set_mode(FakeSink::Mode::kComplete);
  EXPECT_TRUE(sink_.wait_completed(1));
}

TEST(HttpServerResponder, DroppedUnansweredClosesTheConnectionAndEndsTheRequest) {
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  std::vector<Route> routes;
  routes.push_back(Route{"POST", "/drop", RouteKind::kIngest, [](HttpRequest, Responder) {}});
  routes.push_back(Route{"POST", "/later", RouteKind::kIngest, [](HttpRequest, Responder respond) {
                           std::thread([respond = std::move(respond)] {
                             HttpResponse r;
                             r.body = "{}";
                             respond(std::move(r));
                           }).detach();
                         }});
  auto server = HttpServer::create(options, std::move(routes));
  ASSERT_TRUE(server.is_ok()) << server.status().to_string();
  (*server)->start();
  ClientOptions o;
  o.port = (*server)->port();
  o.timeout = std::chrono::seconds(10);
  HttpClient client(o);
  const auto began = std::chrono::steady_clock::now();
  auto dropped = client.request("POST", "/drop", "{}");
  EXPECT_FALSE(dropped.is_ok());
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(5));
  EXPECT_TRUE((*server)->wait_idle(std::chrono::seconds(5)));
  HttpClient second(o);  // an answer from another thread still arrives
  auto later = second.request("POST", "/later", "{}");
  ASSERT_TRUE(later.is_ok()) << later.status().to_string();
  EXPECT_EQ(later->status, 200u);
}

}  // namespace
}  // namespace ktrail::ingest
