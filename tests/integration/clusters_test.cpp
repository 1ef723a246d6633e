// Cluster identity end to end (docs/clusters.md): the real binary, real sockets, real SQLite
// files. Two clusters with the same node, pod and auditIDs stay apart in storage, idempotency
// and correlation; the cluster comes from the credential, the path or --cluster, and a claim
// the credential is not mapped to is refused with 403.
#include <gtest/gtest.h>
#include <signal.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <set>

#include "core/json.h"

#include "tests/integration/store_check.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kScenarios = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/scenarios/";

long long json_number(const std::string& body, const std::string& key) {
  const auto at = body.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size() + 3));
}

// The lines of a JSON-lines file as one audit EventList body.
std::string as_event_list(const std::string& jsonl) {
  std::string items;
  std::size_t pos = 0;
  while (pos < jsonl.size()) {
    std::size_t nl = jsonl.find('\n', pos);
    if (nl == std::string::npos) {
      nl = jsonl.size();
    }
    if (nl > pos) {
      items += (items.empty() ? "" : ",") + jsonl.substr(pos, nl - pos);
    }
    pos = nl + 1;
  }
  return R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[)" + items +
         "]}";
}

rapidjson::Document json_of(const CommandResult& r) {
  rapidjson::Document doc;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out, &doc).is_ok()) << r.out;
  return doc;
}

// The "cluster" value of every element of a JSON array ("" where absent).
std::vector<std::string> clusters_of(const rapidjson::Document& doc) {
  std::vector<std::string> out;
  if (!doc.IsArray()) {
    return out;
  }
  for (const auto& row : doc.GetArray()) {
    out.push_back(row.HasMember("cluster") && row["cluster"].IsString() ? row["cluster"].GetString()
                                                                         : "");
  }
  return out;
}

// The sum of every section's total of a compliance report.
long long report_total(const rapidjson::Document& doc) {
  long long total = 0;
  if (doc.IsObject() && doc.HasMember("sections")) {
    for (const auto& s : doc["sections"].GetObject()) {
      // Sections without a count (the coverage section) add nothing.
      if (s.value.IsObject() && s.value.HasMember("total") && s.value["total"].IsInt64()) {
        total += s.value["total"].GetInt64();
      }
    }
  }
  return total;
}

class ClustersServe : public ::testing::Test {
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
  static Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

  TempDir dir_;
  ServeProcess server_;
};

// Two apiservers with their own tokens send the same node failure, drain and auditIDs: each
// cluster gets its own events, its own incidents (different IDs), and replays stay duplicates
// per cluster.
TEST_F(ClustersServe, SameNamesInTwoClustersStayApart) {
  write_file(dir_.file("tokens"), "# one token per cluster\ntoken-alpha,alpha\ntoken-beta , beta\n");
  ASSERT_TRUE(start({"--token-file", dir_.file("tokens")})) << server_.stderr_text();
  const std::string audit = as_event_list(read_file(kScenarios + "node-not-ready.audit.jsonl") +
                                          read_file(kScenarios + "node-drain.audit.jsonl"));
  const std::string events = read_file(kScenarios + "node-not-ready.events.jsonl");
  long long first_stored = -1;
  for (const std::string token : {"token-alpha", "token-beta"}) {
    HttpClient http(client());
    auto a = http.request("POST", "/audit", audit, bearer(token));
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    ASSERT_EQ(a->status, 200u) << a->body;
    EXPECT_EQ(json_number(a->body, "duplicates"), 0) << token << " " << a->body;
    if (first_stored < 0) {
      first_stored = json_number(a->body, "stored");
    }
    EXPECT_EQ(json_number(a->body, "stored"), first_stored) << token;
    auto e = http.request("POST", "/events", events, bearer(token));
    ASSERT_TRUE(e.is_ok());
    ASSERT_EQ(e->status, 200u) << e->body;
    EXPECT_GT(json_number(e->body, "stored"), 0) << e->body;
  }
  ASSERT_GT(first_stored, 50);
  // A retry of alpha's batch is a duplicate in alpha only.
  HttpClient retry(client());
  auto again = retry.request("POST", "/audit/alpha", audit, bearer("token-alpha"));
  ASSERT_TRUE(again.is_ok());
  ASSERT_EQ(again->status, 200u) << again->body;
  EXPECT_EQ(json_number(again->body, "stored"), 0);
  EXPECT_EQ(json_number(again->body, "duplicates"), first_stored);
  HttpClient metrics(client());
  auto m = metrics.request("GET", "/metrics");
  ASSERT_TRUE(m.is_ok());
  EXPECT_NE(m->body.find("ktrail_cluster_items_total{cluster=\"alpha\",outcome=\"stored\"} "),
            std::string::npos);
  EXPECT_NE(m->body.find("ktrail_cluster_items_total{cluster=\"alpha\",outcome=\"duplicate\"} " +
                         std::to_string(first_stored)),
            std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find("ktrail_cluster_items_total{cluster=\"beta\",outcome=\"duplicate\"} 0"),
            std::string::npos);
  // Series added as clusters appear still make one block of their family.
  std::map<std::string, PromFamily> families;
  std::string error;
  ASSERT_TRUE(parse_prometheus_strict(m->body, &families, &error)) << error << "\n" << m->body;
  ASSERT_EQ(families.count("ktrail_cluster_items_total"), 1u);
  int alpha_series = 0, beta_series = 0;
  for (const auto& sample : families["ktrail_cluster_items_total"].samples) {
    alpha_series += sample.labels.find("cluster=\"alpha\"") != std::string::npos;
    beta_series += sample.labels.find("cluster=\"beta\"") != std::string::npos;
  }
  EXPECT_GT(alpha_series, 0) << m->body;
  EXPECT_GT(beta_series, 0) << m->body;
  EXPECT_EQ(stop(), 0) << server_.stderr_text();

  StoreReader store(db());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(store.audit_rows(), 2 * first_stored);
  EXPECT_EQ(store.strings("SELECT name FROM clusters ORDER BY name"),
            (std::vector<std::string>{"alpha", "beta"}));
  const std::string by_cluster =
      "(SELECT count(*) FROM audit a JOIN clusters c ON c.id = a.cluster WHERE c.name = '";
  EXPECT_EQ(store.scalar("SELECT " + by_cluster + "alpha') - " + by_cluster + "beta')"), 0);
  EXPECT_EQ(store.scalar("SELECT count(DISTINCT audit_id) FROM audit"), first_stored);
  EXPECT_EQ(store.scalar("SELECT count(*) FROM kube_events") % 2, 0);
  const auto kinds = store.strings(
      "SELECT c.name || ' ' || i.kind || ' ' || coalesce(i.node, '') FROM incidents i "
      "JOIN clusters c ON c.id = i.cluster ORDER BY 1");
  EXPECT_EQ(kinds, (std::vector<std::string>{"alpha node-drain worker-2", "alpha node-not-ready worker-3",
                                             "beta node-drain worker-2", "beta node-not-ready worker-3"}))
      << ::testing::PrintToString(kinds);
  EXPECT_EQ(store.scalar("SELECT count(DISTINCT id) FROM incidents"), 4);
  // Each incident's members are its own cluster's: as many in both.
  EXPECT_EQ(store.scalar("SELECT count(*) FROM incident_members m JOIN incidents i ON "
                         "i.id = m.incident_id WHERE i.cluster = (SELECT id FROM clusters WHERE "
                         "name = 'alpha')"),
            store.scalar("SELECT count(*) FROM incident_members m JOIN incidents i ON "
                         "i.id = m.incident_id WHERE i.cluster = (SELECT id FROM clusters WHERE "
                         "name = 'beta')"));

  // The query commands: --cluster selects, and the CLUSTER column is there (two clusters).
  auto incidents = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"incidents", "list", "--db", db(), "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return json_of(run_ktrail(args));
  };
  auto all = clusters_of(incidents({}));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"alpha", "alpha", "beta", "beta"}));
  EXPECT_EQ(clusters_of(incidents({"--cluster", "beta"})),
            (std::vector<std::string>{"beta", "beta"}));
  EXPECT_EQ(clusters_of(incidents({"--cluster", "beta", "--cluster", "alpha"})).size(), 4u);
  EXPECT_TRUE(clusters_of(incidents({"--cluster", "nowhere"})).empty());
  const auto table = run_ktrail({"incidents", "list", "--db", db(), "--cluster", "alpha"});
  EXPECT_NE(table.out.find("CLUSTER"), std::string::npos) << table.out;
  for (const std::string cluster : {"alpha", "beta"}) {
    const auto timeline = json_of(run_ktrail({"query", "timeline", "--db", db(), "--node",
                                              "worker-3", "--cluster", cluster, "--limit", "0",
                                              "-o", "json"}));
    const auto of = clusters_of(timeline);
    EXPECT_GT(of.size(), 10u);
    EXPECT_EQ(std::set<std::string>(of.begin(), of.end()), std::set<std::string>{cluster});
    const auto audit = json_of(run_ktrail({"query", "audit", "--db", db(), "--cluster", cluster,
                                           "--stages", "all", "--limit", "0", "-o", "json"}));
    EXPECT_EQ(static_cast<long long>(audit.Size()), first_stored);
    const auto events = json_of(run_ktrail(
        {"query", "events", "--db", db(), "--cluster", cluster, "--limit", "0", "-o", "json"}));
    const auto event_clusters = clusters_of(events);
    EXPECT_EQ(std::set<std::string>(event_clusters.begin(), event_clusters.end()),
              std::set<std::string>{cluster});
  }
  auto report = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"report", "compliance", "--db", db(), "--since",
                                     "2026-03-01T00:00:00Z", "--until", "2026-03-01T23:00:00Z",
                                     "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return report_total(json_of(run_ktrail(args)));
  };
  const long long alpha = report({"--cluster", "alpha"});
  EXPECT_GT(alpha, 0);
  EXPECT_EQ(report({"--cluster", "beta"}), alpha);
  EXPECT_EQ(report({}), 2 * alpha);
}

// A node failure in one cluster and a drain of the namesake node in another never make one
// incident: each cluster has only its own kind.
TEST_F(ClustersServe, SignalsOfOneClusterNeverJoinAnother) {
  ASSERT_TRUE(start()) << server_.stderr_text();
  HttpClient http(client());
  auto a = http.request("POST", "/audit/east",
                        as_event_list(read_file(kScenarios + "node-not-ready.audit.jsonl")));
  ASSERT_TRUE(a.is_ok());
  ASSERT_EQ(a->status, 200u) << a->body;
  auto e = http.request("POST", "/events/west", read_file(kScenarios + "node-not-ready.events.jsonl"));
  ASSERT_TRUE(e.is_ok());
  ASSERT_EQ(e->status, 200u) << e->body;
  EXPECT_EQ(stop(), 0) << server_.stderr_text();
  StoreReader store(db());
  // Each half alone is enough for an incident (the product's promise), and each stays in its
  // own cluster with only its own members.
  for (const std::string cluster : {"east", "west"}) {
    EXPECT_EQ(store.scalar("SELECT count(*) FROM incidents WHERE kind = 'node-not-ready' AND "
                           "cluster = (SELECT id FROM clusters WHERE name = '" +
                           cluster + "')"),
              1)
        << cluster;
  }
  EXPECT_EQ(store.scalar("SELECT count(*) FROM incident_members m JOIN incidents i ON i.id = "
                         "m.incident_id JOIN clusters c ON c.id = i.cluster WHERE c.name = "
                         "'east' AND m.source = 'event'"),
            0);
  EXPECT_EQ(store.scalar("SELECT count(*) FROM incident_members m JOIN incidents i ON i.id = "
                         "m.incident_id JOIN clusters c ON c.id = i.cluster WHERE c.name = "
                         "'west' AND m.source = 'audit'"),
            0);
}

TEST_F(ClustersServe, AClaimTheTokenIsNotMappedToIsRefused) {
  write_file(dir_.file("tokens"), "token-alpha,alpha\nunbound-token\n");
  ASSERT_TRUE(start({"--token-file", dir_.file("tokens")})) << server_.stderr_text();
  auto post = [&](const std::string& path, const std::string& token, const std::string& id) {
    HttpClient http(client());
    auto r = http.request("POST", path, event_list(id, 2), bearer(token));
    return r.is_ok() ? *r : ClientResponse{};
  };
  const ClientResponse refused = post("/audit/beta", "token-alpha", "claim");
  EXPECT_EQ(refused.status, 403u) << refused.body;
  EXPECT_NE(refused.body.find("beta"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.body.find("token-alpha"), std::string::npos) << refused.body;
  EXPECT_EQ(post("/events/beta", "token-alpha", "claim-events").status, 403u);
  EXPECT_EQ(post("/audit/alpha", "token-alpha", "own").status, 200u);
  EXPECT_EQ(post("/audit", "token-alpha", "bare").status, 200u);
  // A token that names no cluster may name one in the path; without a path it is "default".
  EXPECT_EQ(post("/audit/gamma", "unbound-token", "free").status, 200u);
  EXPECT_EQ(post("/audit", "unbound-token", "plain").status, 200u);
  // Hostile paths: not a cluster name, or deeper than one segment.
  EXPECT_EQ(post("/audit/bad%20name", "unbound-token", "x1").status, 400u);
  EXPECT_EQ(post("/audit/-dash", "unbound-token", "x2").status, 400u);
  EXPECT_EQ(post("/audit/" + std::string(64, 'a'), "unbound-token", "x3").status, 400u);
  EXPECT_EQ(post("/audit/a/b", "unbound-token", "x4").status, 404u);
  EXPECT_EQ(post("/audit/", "unbound-token", "x5").status, 404u);
  // Without the token the claim does not even get looked at.
  EXPECT_EQ(post("/audit/alpha", "wrong", "x6").status, 401u);
  EXPECT_TRUE(server_.wait_for_log("403", 1)) << server_.stderr_text();
  EXPECT_EQ(server_.stderr_text().find("token-alpha"), std::string::npos);
  EXPECT_EQ(stop(), 0) << server_.stderr_text();
  StoreReader store(db());
  EXPECT_EQ(store.scalar("SELECT count(*) FROM audit WHERE audit_id LIKE 'claim%' OR audit_id "
                         "LIKE 'x%'"),
            0);
  EXPECT_EQ(store.strings("SELECT c.name || ' ' || a.audit_id FROM audit a JOIN clusters c ON "
                          "c.id = a.cluster WHERE a.audit_id LIKE '%-0' ORDER BY 1"),
            (std::vector<std::string>{"alpha bare-0", "alpha own-0", "default plain-0",
                                      "gamma free-0"}));
}

TEST_F(ClustersServe, MalformedTokenFileLinesAreClearErrors) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ok-token\n,alpha\n", "line 2: no token before the comma"},
      {"t1,alpha,beta\n", "line 1: more than one comma"},
      {"t1,\n", "line 1: cluster name is empty"},
      {"t1,bad name\n", "line 1: cluster name \"bad name\" is not a cluster name"},
      {"t1,alpha\nt1,beta\n", "line 2: a token listed before names another cluster"},
      {"t1,al\x01pha\n", "\\x01"},
      {"to ken,alpha\n", "line 1: the token holds white space"},
  };
  for (const auto& [text, why] : bad) {
    write_file(dir_.file("tokens"), text);
    ServeProcess server;
    EXPECT_FALSE(server.start({"--listen", "127.0.0.1:0", "--db", db(), "--token-file",
                               dir_.file("tokens")}));
    const std::string err = server.stderr_text();
    EXPECT_NE(err.find(why), std::string::npos) << text << " -> " << err;
    EXPECT_EQ(err.find("t1"), std::string::npos) << "a token appears in: " << err;
  }
}

class ClustersTls : public ClustersServe {
 protected:
  static void SetUpTestSuite() {
    certs_dir_ = new TempDir();
    ASSERT_EQ(make_test_certs(certs_dir_->path(), &certs_), "");
  }
  static void TearDownTestSuite() { delete certs_dir_; }
  ClientOptions mtls() const {
    ClientOptions o = client();
    o.tls = true;
    o.ca_file = certs_.ca_cert;
    o.cert_file = certs_.client_cert;  // CN=kube-apiserver
    o.key_file = certs_.client_key;
    return o;
  }
  std::vector<std::string> tls_args() const {
    return {"--tls-cert", certs_.server_cert, "--tls-key", certs_.server_key, "--client-ca",
            certs_.ca_cert};
  }
  static TempDir* certs_dir_;
  static TestCerts certs_;
};

TempDir* ClustersTls::certs_dir_ = nullptr;
TestCerts ClustersTls::certs_;

TEST_F(ClustersTls, WithoutAMapTheCertificateCnIsTheCluster) {
  ASSERT_TRUE(start(tls_args())) << server_.stderr_text();
  HttpClient http(mtls());
  auto ok = http.request("POST", "/audit", event_list("cn", 2));
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->status, 200u) << ok->body;
  auto claim = http.request("POST", "/audit/prod", event_list("claim", 2));
  ASSERT_TRUE(claim.is_ok());
  EXPECT_EQ(claim->status, 403u) << claim->body;
  EXPECT_EQ(stop(), 0);
  StoreReader store(db());
  EXPECT_EQ(store.strings("SELECT DISTINCT c.name FROM audit a JOIN clusters c ON c.id = a.cluster"),
            std::vector<std::string>{"kube-apiserver"});
}

TEST_F(ClustersTls, TheClientClusterMapNamesTheCluster) {
  write_file(dir_.file("map"), "# CN or SAN, cluster\nsomeone-else,staging\nkube-apiserver , prod\n");
  auto args = tls_args();
  args.insert(args.end(), {"--client-cluster-map", dir_.file("map")});
  ASSERT_TRUE(start(args)) << server_.stderr_text();
  HttpClient http(mtls());
  auto own = http.request("POST", "/audit/prod", event_list("mapped", 3));
  ASSERT_TRUE(own.is_ok()) << own.status().to_string();
  EXPECT_EQ(own->status, 200u) << own->body;
  auto other = http.request("POST", "/events/staging", "{}");
  ASSERT_TRUE(other.is_ok());
  EXPECT_EQ(other->status, 403u) << other->body;
  EXPECT_EQ(stop(), 0);
  StoreReader store(db());
  EXPECT_EQ(store.strings("SELECT DISTINCT c.name FROM audit a JOIN clusters c ON c.id = a.cluster"),
            std::vector<std::string>{"prod"});
  // A map with a hostile line stops the server from starting, naming the line.
  write_file(dir_.file("bad-map"), "kube-apiserver,prod\nkube-apiserver,staging\n");
  ServeProcess bad;
  auto bad_args = tls_args();
  bad_args.insert(bad_args.end(), {"--listen", "127.0.0.1:0", "--db", dir_.file("other.db"),
                                   "--client-cluster-map", dir_.file("bad-map")});
  EXPECT_FALSE(bad.start(bad_args));
  EXPECT_NE(bad.stderr_text().find("line 2"), std::string::npos) << bad.stderr_text();
}

// `ktrail ingest --cluster`: the same file in two clusters is stored twice, again in either
// adds nothing; an invalid name is a usage error.
TEST(ClustersIngest, ClusterFlagKeepsReplaysPerCluster) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  const std::string file = kScenarios + "node-drain.audit.jsonl";
  auto first = run_ktrail({"ingest", "--db", db, "--cluster", "one", "-o", "json", file});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const long long stored = json_number(first.out, "stored");
  ASSERT_GT(stored, 5);
  auto second = run_ktrail({"ingest", "--db", db, "--cluster", "two", "-o", "json", file});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(json_number(second.out, "stored"), stored);
  auto again = run_ktrail({"ingest", "--db", db, "--cluster", "one", "-o", "json", file});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json_number(again.out, "stored"), 0);
  EXPECT_EQ(json_number(again.out, "duplicates"), stored);
  auto plain = run_ktrail({"ingest", "--db", db, "-o", "json", file});
  EXPECT_EQ(json_number(plain.out, "stored"), stored);
  auto bad = run_ktrail({"ingest", "--db", db, "--cluster", "no/slash", file});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--cluster"), std::string::npos) << bad.err;
  StoreReader store(db);
  EXPECT_EQ(store.audit_rows(), 3 * stored);
  EXPECT_EQ(store.scalar("SELECT count(*) FROM incidents"), 3);
}

}  // namespace
}  // namespace ktrail::testing
