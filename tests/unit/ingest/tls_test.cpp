// HTTPS and client authentication of the webhook server: server certificates, client
// certificates (--client-ca) and bearer tokens (--token-file), over real TLS connections.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/metrics.h"

#include "ingest/http_server.h"
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
using ktrail::testing::TestCerts;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const std::string error = testing::make_test_certs(dir_->path(), &certs_);
    ASSERT_EQ(error, "");
    testing::write_file(dir_->file("tokens"), "webhook-token-1\n");
  }
  static void TearDownTestSuite() { delete dir_; }

  void start(bool client_ca, bool token) {
    HttpServerOptions options;
    options.port = 0;
    options.tls.cert_file = certs_.server_cert;
    options.tls.key_file = certs_.server_key;
    if (client_ca) {
      options.tls.client_ca_file = certs_.ca_cert;
    }
    if (token) {
      options.token_file = dir_->file("tokens");
    }
    WebhookRoutesOptions routes;
    routes.sink = &sink_;
    auto server = HttpServer::create(options, std::move(*webhook_routes(routes)));
    ASSERT_TRUE(server.is_ok()) << server.status().to_string();
    server_ = std::move(*server);
    server_->start();
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
    }
  }
  ClientOptions client(bool with_cert) const {
    ClientOptions o;
    o.port = server_->port();
    o.tls = true;
    o.ca_file = certs_.ca_cert;
    if (with_cert) {
      o.cert_file = certs_.client_cert;
      o.key_file = certs_.client_key;
    }
    return o;
  }

  static testing::TempDir* dir_;
  static TestCerts certs_;
  FakeSink sink_;
  std::unique_ptr<HttpServer> server_;
};

testing::TempDir* TlsTest::dir_ = nullptr;
TestCerts TlsTest::certs_;

TEST_F(TlsTest, HttpsServesVerifiedClients) {
  start(false, false);
  EXPECT_TRUE(server_->tls());
  HttpClient c(client(false));
  auto r = c.request("POST", "/audit?timeout=30s", event_list("tls", 2));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(sink_.received().size(), 1u);
}

// The apiserver keeps idle keep-alive connections and, when it exits, drops them without a TLS
// close_notify. Nothing was asked on them, so nothing may be counted as answered.
TEST_F(TlsTest, ConnectionClosedBeforeAnyRequestCountsNoResponse) {
  start(false, false);
  Metric& bad = MetricsRegistry::global().get("ktrail_http_responses_total", MetricType::kCounter,
                                              "HTTP responses sent, by status code",
                                              "code=\"400\"");
  const std::int64_t before = bad.value();
  for (int i = 0; i < 3; ++i) {
    HttpClient idle(client(false));
    ASSERT_TRUE(idle.connect().is_ok());  // TCP connect and TLS handshake, then nothing
    idle.close();                         // a TCP close: no close_notify
  }
  HttpClient used(client(false));  // a request, then the idle connection is dropped
  auto r = used.request("GET", "/healthz");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  used.close();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(server_->open_connections(), 0u) << "the server did not see the connections end";
  EXPECT_EQ(bad.value(), before);
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsNothingStored) {
  start(false, false);
  ClientOptions o = client(false);
  o.tls = false;
  HttpClient c(o);
  auto r = c.request("POST", "/audit", event_list("plain", 1));
  EXPECT_FALSE(r.is_ok() && r->status == 200u);
  EXPECT_TRUE(sink_.received().empty());
}

TEST_F(TlsTest, ClientCertificateIsRequiredForIngest) {
  start(true, false);
  HttpClient without(client(false));
  auto denied = without.request("POST", "/audit", event_list("nocert", 1));
  ASSERT_TRUE(denied.is_ok()) << denied.status().to_string();
  EXPECT_EQ(denied->status, 401u);
  // Probes stay open, so kubelet health checks work without a certificate.
  HttpClient probe(client(false));
  auto health = probe.request("GET", "/healthz");
  ASSERT_TRUE(health.is_ok());
  EXPECT_EQ(health->status, 200u);

  HttpClient with(client(true));
  auto ok = with.request("POST", "/audit", event_list("cert", 1));
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->status, 200u);
  ASSERT_EQ(sink_.received().size(), 1u);
  EXPECT_EQ(sink_.received()[0].audit[0].audit_id, "cert-0");
}

TEST_F(TlsTest, CertificateFromAnotherCaIsRefused) {
  start(true, false);
  ClientOptions o = client(false);
  o.cert_file = certs_.other_client_cert;
  o.key_file = certs_.other_client_key;
  HttpClient intruder(o);
  auto r = intruder.request("POST", "/audit", event_list("intruder", 1));
  EXPECT_FALSE(r.is_ok() && r->status == 200u);
  EXPECT_TRUE(sink_.received().empty());
}

TEST_F(TlsTest, BearerTokenIsRequired) {
  start(false, true);
  HttpClient none(client(false));
  auto r1 = none.request("POST", "/audit", event_list("t", 1));
  ASSERT_TRUE(r1.is_ok());
  EXPECT_EQ(r1->status, 401u);
  EXPECT_EQ(r1->header("www-authenticate"), "Bearer realm=\"ktrail\"");
  HttpClient wrong(client(false));
  auto r2 = wrong.request("POST", "/audit", event_list("t", 1),
                          {{"Authorization", "Bearer webhook-token-2"}});
  ASSERT_TRUE(r2.is_ok());
  EXPECT_EQ(r2->status, 401u);
  EXPECT_TRUE(sink_.received().empty());
  HttpClient right(client(false));
  auto r3 = right.request("POST", "/audit", event_list("t", 1),
                          {{"Authorization", "Bearer webhook-token-1"}});
  ASSERT_TRUE(r3.is_ok());
  EXPECT_EQ(r3->status, 200u);
  EXPECT_EQ(sink_.received().size(), 1u);
}

TEST_F(TlsTest, CertificateAndTokenTogetherRequireBoth) {
  start(true, true);
  HttpClient cert_only(client(true));
  auto r1 = cert_only.request("POST", "/audit", event_list("b", 1));
  ASSERT_TRUE(r1.is_ok());
  EXPECT_EQ(r1->status, 401u);
  HttpClient token_only(client(false));
  auto r2 = token_only.request("POST", "/audit", event_list("b", 1),
                               {{"Authorization", "Bearer webhook-token-1"}});
  ASSERT_TRUE(r2.is_ok());
  EXPECT_EQ(r2->status, 401u);
  HttpClient both(client(true));
  auto r3 = both.request("POST", "/audit", event_list("b", 1),
                         {{"Authorization", "Bearer webhook-token-1"}});
  ASSERT_TRUE(r3.is_ok());
  EXPECT_EQ(r3->status, 200u);
  EXPECT_EQ(sink_.received().size(), 1u);
}

TEST(TlsConfig, BadMaterialIsAClearError) {
  testing::TempDir dir;
  testing::write_file(dir.file("junk.pem"), "not a certificate");
  HttpServerOptions options;
  options.port = 0;
  options.tls.cert_file = dir.file("junk.pem");
  options.tls.key_file = dir.file("junk.pem");
  auto r = HttpServer::create(options, {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("--tls-cert"), std::string::npos);

  HttpServerOptions ca_without_tls;
  ca_without_tls.port = 0;
  ca_without_tls.tls.client_ca_file = dir.file("junk.pem");
  auto r2 = HttpServer::create(ca_without_tls, {});
  ASSERT_FALSE(r2.is_ok());
  EXPECT_NE(r2.status().message().find("--client-ca"), std::string::npos);
}

}  // namespace
}  // namespace ktrail::ingest
