// `ktrail serve` end to end: the real binary on an ephemeral port, real HTTP and HTTPS, a real
// SQLite file checked with the sqlite3 API after the server has stopped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "tests/integration/store_check.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kData = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/";
const std::vector<std::string> kRealLogs = {"audit2rbac-demo-raw-v1beta1.jsonl",
                                            "audit2rbac-demo-v1.jsonl",
                                            "falco-k8s-audit-trace-files.jsonl"};

// Splits a JSON-lines log into EventList bodies of at most `per_batch` events, as the
// apiserver's batching backend would send them.
std::vector<std::string> as_event_lists(const std::string& jsonl, std::size_t per_batch) {
  std::vector<std::string> bodies;
  std::string items;
  std::size_t n = 0;
  std::size_t pos = 0;
  auto flush = [&] {
    if (n > 0) {
      bodies.push_back(R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},)"
                       R"("items":[)" +
                       items + "]}\n");
    }
    items.clear();
    n = 0;
  };
  while (pos < jsonl.size()) {
    std::size_t nl = jsonl.find('\n', pos);
    if (nl == std::string::npos) {
      nl = jsonl.size();
    }
    if (nl > pos) {
      items += (n ? "," : "") + jsonl.substr(pos, nl - pos);
      if (++n == per_batch) {
        flush();
      }
    }
    pos = nl + 1;
  }
  flush();
  return bodies;
}

long long json_number(const std::string& body, const std::string& key) {
  const auto at = body.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size() + 3));
}

class ServeTest : public ::testing::Test {
 protected:
  std::string db() const { return dir_.file("ktrail.db"); }
  bool start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--db", db()};
    args.insert(args.end(), extra.begin(), extra.end());
    return server_.start(args);
  }
  int stop() {
    server_.signal(SIGTERM);
    return server_.wait_exit();
  }
  ClientOptions client() const {
    ClientOptions o;
    o.port = server_.port();
    return o;
  }

  TempDir dir_;
  ServeProcess server_;
};

TEST_F(ServeTest, RealAuditLogsAreStoredOnceAndReplaysAddNothing) {
  ASSERT_TRUE(start()) << server_.stderr_text();
  std::vector<std::string> texts;
  for (const auto& name : kRealLogs) {
    texts.push_back(read_file(kData + name));
    ASSERT_FALSE(texts.back().empty()) << name;
  }
  const std::size_t expected = distinct_events(texts);
  ASSERT_GT(expected, 800u);

  HttpClient http(client());
  long long stored = 0;
  long long duplicates = 0;
  for (const auto& text : texts) {
    for (const auto& body : as_event_lists(text, 400)) {
      auto r = http.request("POST", "/audit?timeout=30s", body);
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      ASSERT_EQ(r->status, 200u) << r->body;
      stored += json_number(r->body, "stored");
      duplicates += json_number(r->body, "duplicates");
      EXPECT_EQ(json_number(r->body, "rejected"), 0) << r->body;
    }
  }
  EXPECT_EQ(stored, static_cast<long long>(expected));
  // Replay everything, as an apiserver retrying every batch would.
  long long replay_stored = 0;
  for (const auto& text : texts) {
    for (const auto& body : as_event_lists(text, 100)) {
      auto r = http.request("POST", "/audit", body);
      ASSERT_TRUE(r.is_ok());
      ASSERT_EQ(r->status, 200u);
      replay_stored += json_number(r->body, "stored");
    }
  }
  EXPECT_EQ(replay_stored, 0);
  EXPECT_EQ(stop(), 0) << server_.stderr_text();

  StoreReader store(db());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(store.audit_rows(), static_cast<long long>(expected));
  EXPECT_EQ(store.duplicate_rows(), 0);
  EXPECT_EQ(store.dead_letters(), 0);
}

TEST_F(ServeTest, BadItemsGoToDeadLettersAndHostileBodiesStoreNothing) {
  ASSERT_TRUE(start({"--max-body-bytes", "65536"})) << server_.stderr_text();
  HttpClient http(client());
  const std::string mixed = R"({"kind":"EventList","items":[)" + audit_item("good-1") +
                            R"(,{"auditID":"x","level":"Metadata"},"text",)" +
                            audit_item("good-2") + "]}";
  auto r = http.request("POST", "/audit", mixed);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->status, 200u);
  EXPECT_EQ(json_number(r->body, "stored"), 2);
  EXPECT_EQ(json_number(r->body, "rejected"), 2);

  struct Case {
    std::string body;
    std::string content_type;
    unsigned status;
  };
  const std::vector<Case> hostile = {
      {R"({"kind":"EventList","items":[)" + audit_item("trunc"), "application/json", 400},
      {"{]", "application/json", 400},
      {std::string(5000, '['), "application/json", 400},
      {"\x00\x01\x02garbage", "application/json", 400},
      {event_list("wrongtype", 1), "text/plain", 415},
      {event_list("big", 200), "application/json", 413},
  };
  for (const auto& c : hostile) {
    HttpClient one(client());
    auto h = one.request("POST", "/audit", c.body, {{"Content-Type", c.content_type}});
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    EXPECT_EQ(h->status, c.status) << h->body;
  }
  HttpClient after(client());
  auto health = after.request("GET", "/healthz");
  ASSERT_TRUE(health.is_ok());
  EXPECT_EQ(health->status, 200u);
  auto metrics = after.request("GET", "/metrics");
  ASSERT_TRUE(metrics.is_ok());
  EXPECT_NE(metrics->body.find("ktrail_store_items_total{outcome=\"stored\"} 2"), std::string::npos)
      << metrics->body;
  EXPECT_EQ(stop(), 0);

  StoreReader store(db());
  EXPECT_EQ(store.audit_rows(), 2);
  EXPECT_EQ(store.dead_letters(), 2);
  const auto reasons = store.strings("SELECT reason FROM dead_letters ORDER BY id");
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[0].find("stage"), std::string::npos) << reasons[0];
}

class ServeTlsTest : public ServeTest {
 protected:
  static void SetUpTestSuite() {
    certs_dir_ = new TempDir();
    ASSERT_EQ(make_test_certs(certs_dir_->path(), &certs_), "");
    write_file(certs_dir_->file("tokens"), "# apiserver\nsecret-token-xyz\n");
  }
  static void TearDownTestSuite() { delete certs_dir_; }
  ClientOptions https(bool with_cert) const {
    ClientOptions o = client();
    o.tls = true;
    o.ca_file = certs_.ca_cert;
    if (with_cert) {
      o.cert_file = certs_.client_cert;
      o.key_file = certs_.client_key;
    }
    return o;
  }
  std::vector<std::string> tls_args() const {
    return {"--tls-cert", certs_.server_cert, "--tls-key", certs_.server_key};
  }
  static TempDir* certs_dir_;
  static TestCerts certs_;
};

TempDir* ServeTlsTest::certs_dir_ = nullptr;
TestCerts ServeTlsTest::certs_;

TEST_F(ServeTlsTest, ClientCertificateRequired) {
  auto args = tls_args();
  args.insert(args.end(), {"--client-ca", certs_.ca_cert});
  ASSERT_TRUE(start(args)) << server_.stderr_text();
  HttpClient anonymous(https(false));
  auto denied = anonymous.request("POST", "/audit?timeout=30s", event_list("anon", 5));
  ASSERT_TRUE(denied.is_ok()) << denied.status().to_string();
  EXPECT_EQ(denied->status, 401u);
  HttpClient apiserver(https(true));
  auto ok = apiserver.request("POST", "/audit?timeout=30s", event_list("mtls", 5));
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->status, 200u);
  EXPECT_EQ(stop(), 0);
  StoreReader store(db());
  EXPECT_EQ(store.audit_rows(), 5);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM audit WHERE audit_id LIKE 'anon-%'"), 0);
}

TEST_F(ServeTlsTest, BearerTokenRequired) {
  auto args = tls_args();
  args.insert(args.end(), {"--token-file", certs_dir_->file("tokens")});
  ASSERT_TRUE(start(args)) << server_.stderr_text();
  HttpClient no_token(https(false));
  auto denied = no_token.request("POST", "/audit", event_list("anon", 3));
  ASSERT_TRUE(denied.is_ok());
  EXPECT_EQ(denied->status, 401u);
  HttpClient bad_token(https(false));
  auto wrong = bad_token.request("POST", "/audit", event_list("wrong", 3),
                                 {{"Authorization", "Bearer secret-token-xy"}});
  ASSERT_TRUE(wrong.is_ok());
  EXPECT_EQ(wrong->status, 401u);
  HttpClient good(https(false));
  auto ok = good.request("POST", "/audit", event_list("tok", 3),
                         {{"Authorization", "Bearer secret-token-xyz"}});
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok->status, 200u);
  EXPECT_EQ(stop(), 0);
  EXPECT_EQ(StoreReader(db()).audit_rows(), 3);
}

TEST_F(ServeTlsTest, OptionsFromAConfigFile) {
  write_file(dir_.file("serve.conf"),
             "# ktrail serve options\nlisten = 127.0.0.1:0\ntls-cert = " + certs_.server_cert +
                 "\ntls-key = " + certs_.server_key + "\n");
  ASSERT_TRUE(server_.start({"--config", dir_.file("serve.conf"), "--db", db()}))
      << server_.stderr_text();
  HttpClient c(https(false));
  auto ok = c.request("POST", "/audit", event_list("conf", 2));
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->status, 200u);
  EXPECT_EQ(stop(), 0);
  EXPECT_EQ(StoreReader(db()).audit_rows(), 2);
}

TEST(ServeUsage, BadOptionsAreUsageErrors) {
  TempDir dir;
  EXPECT_EQ(run_ktrail({"serve", "--listen", "nonsense"}).exit_code, 2);
  EXPECT_EQ(run_ktrail({"serve", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(run_ktrail({"serve", "--read-timeout", "soon"}).exit_code, 2);
  EXPECT_EQ(run_ktrail({"serve", "--config", dir.file("missing.conf")}).exit_code, 2);
  auto tls = run_ktrail({"serve", "--listen", "127.0.0.1:0", "--db", dir.file("x.db"), "--tls-cert",
                         dir.file("missing.crt"), "--tls-key", dir.file("k")});
  EXPECT_EQ(tls.exit_code, 1);
  EXPECT_NE(tls.err.find("--tls-cert"), std::string::npos) << tls.err;
}

}  // namespace
}  // namespace ktrail::testing
