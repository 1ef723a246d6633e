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
  ASSERT_TRUE(start({"--ready-file", dir_.file("ready")})) << server_.stderr_text();
  EXPECT_EQ(read_file(dir_.file("ready")), "127.0.0.1:" + std::to_string(server_.port()) + "\n");
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
      {std::string("\x00\x01\x02garbage", 10), "application/json", 400},
      {"", "application/json", 400},
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

// Sends SIGHUP and waits, with a deadline, until the server has logged the reload's outcome
// for the `nth` time ("reloaded" or "reload failed").
bool hangup_and_wait(ServeProcess& server, const std::string& outcome, int nth) {
  server.signal(SIGHUP);
  return server.wait_for_log("SIGHUP: " + outcome, nth);
}

// Tokens are rotated by rewriting the token file and sending SIGHUP: the new token works at
// once, on new and open connections; the old one stops working; a broken file changes nothing.
TEST_F(ServeTlsTest, SighupReloadsTheTokenFile) {
  const std::string tokens = dir_.file("tokens");
  write_file(tokens, "old-token\n");
  auto args = tls_args();
  args.insert(args.end(), {"--token-file", tokens});
  ASSERT_TRUE(start(args)) << server_.stderr_text();
  HttpClient open(https(false));  // a keep-alive connection that lives across the reload
  auto before = open.request("POST", "/audit", event_list("before", 2),
                             {{"Authorization", "Bearer old-token"}});
  ASSERT_TRUE(before.is_ok()) << before.status().to_string();
  ASSERT_EQ(before->status, 200u);

  write_file(tokens, "# rotated\nnew-token\n");
  ASSERT_TRUE(hangup_and_wait(server_, "reloaded", 1)) << server_.stderr_text();
  auto old_token =
      open.request("POST", "/audit", event_list("old", 2), {{"Authorization", "Bearer old-token"}});
  ASSERT_TRUE(old_token.is_ok());
  EXPECT_EQ(old_token->status, 401u);
  HttpClient fresh(https(false));
  auto new_token = fresh.request("POST", "/audit", event_list("new", 2),
                                 {{"Authorization", "Bearer new-token"}});
  ASSERT_TRUE(new_token.is_ok());
  EXPECT_EQ(new_token->status, 200u);

  // A file without a single token is refused: the server keeps the tokens it has.
  write_file(tokens, "# nothing here\n");
  ASSERT_TRUE(hangup_and_wait(server_, "reload failed", 1)) << server_.stderr_text();
  auto still = fresh.request("POST", "/audit", event_list("still", 2),
                             {{"Authorization", "Bearer new-token"}});
  ASSERT_TRUE(still.is_ok());
  EXPECT_EQ(still->status, 200u);
  auto metrics = fresh.request("GET", "/metrics");
  ASSERT_TRUE(metrics.is_ok());
  EXPECT_NE(metrics->body.find("ktrail_credential_reloads_total{result=\"ok\"} 1"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("ktrail_credential_reloads_total{result=\"failed\"} 1"),
            std::string::npos)
      << metrics->body;
  EXPECT_EQ(stop(), 0);
  EXPECT_NE(server_.stderr_text().find("reload failed"), std::string::npos)
      << server_.stderr_text();
  StoreReader store(db());
  EXPECT_EQ(store.audit_rows(), 6);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM audit WHERE audit_id LIKE 'old-%'"), 0);
}

// Certificates are rotated the same way: after SIGHUP new connections get the new server
// certificate and must present a client certificate of the new CA; a connection opened before
// keeps working; a certificate whose key does not match is refused and changes nothing.
TEST_F(ServeTlsTest, SighupReloadsCertificatesAndClientCa) {
  TempDir other_dir;
  TestCerts other;
  ASSERT_EQ(make_test_certs(other_dir.path(), &other), "");
  const std::string cert = dir_.file("server.crt");
  const std::string key = dir_.file("server.key");
  const std::string ca = dir_.file("client-ca.crt");
  write_file(cert, read_file(certs_.server_cert));
  write_file(key, read_file(certs_.server_key));
  write_file(ca, read_file(certs_.ca_cert));
  ASSERT_TRUE(start({"--tls-cert", cert, "--tls-key", key, "--client-ca", ca}))
      << server_.stderr_text();
  auto old_client = [&] { return https(true); };
  auto new_client = [&] {
    ClientOptions o = client();
    o.tls = true;
    o.ca_file = other.ca_cert;
    o.cert_file = other.client_cert;
    o.key_file = other.client_key;
    return o;
  };
  HttpClient open(old_client());
  auto before = open.request("POST", "/audit", event_list("before", 2));
  ASSERT_TRUE(before.is_ok()) << before.status().to_string();
  ASSERT_EQ(before->status, 200u);

  write_file(cert, read_file(other.server_cert));
  write_file(key, read_file(other.server_key));
  write_file(ca, read_file(other.ca_cert));
  ASSERT_TRUE(hangup_and_wait(server_, "reloaded", 1)) << server_.stderr_text();
  HttpClient rotated(new_client());
  auto after = rotated.request("POST", "/audit", event_list("after", 2));
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  EXPECT_EQ(after->status, 200u);
  HttpClient stale(old_client());  // trusts the old CA only: the new certificate fails it
  EXPECT_FALSE(stale.request("POST", "/audit", event_list("stale", 2)).is_ok());
  auto kept = open.request("POST", "/audit", event_list("kept", 2));
  ASSERT_TRUE(kept.is_ok()) << kept.status().to_string();
  EXPECT_EQ(kept->status, 200u);

  write_file(key, read_file(certs_.server_key));  // a key of the other certificate
  ASSERT_TRUE(hangup_and_wait(server_, "reload failed", 1)) << server_.stderr_text();
  HttpClient again(new_client());
  auto still = again.request("POST", "/audit", event_list("still", 2));
  ASSERT_TRUE(still.is_ok()) << still.status().to_string();
  EXPECT_EQ(still->status, 200u);
  EXPECT_EQ(stop(), 0);
  StoreReader store(db());
  EXPECT_EQ(store.audit_rows(), 8);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM audit WHERE audit_id LIKE 'stale-%'"), 0);
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

  ServeProcess first;
  ASSERT_TRUE(first.start({"--listen", "127.0.0.1:0", "--db", dir.file("a.db")}));
  auto taken = run_ktrail(
      {"serve", "--listen", "127.0.0.1:" + std::to_string(first.port()), "--db", dir.file("b.db")});
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_NE(taken.err.find("cannot listen"), std::string::npos) << taken.err;
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait_exit(), 0);
}

}  // namespace
}  // namespace ktrail::testing
