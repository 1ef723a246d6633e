// `ktrail ingest --format`: real apiserver audit logs wrapped in each managed service's export
// shape (EKS CloudWatch Logs: filter-log-events output, subscription deliveries, S3 export
// lines; AKS diagnostic records; GKE Cloud Audit Logs entries) are stored once each, replays add
// nothing, and mixed or unknown input is kept aside with the file, line and reason.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <zlib.h>

#include <filesystem>

#include "core/json.h"
#include "tests/integration/store_check.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kData = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/";

long long json_number(const std::string& body, const std::string& key) {
  const auto at = body.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size() + 3));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      nl = text.size();
    }
    if (nl > pos) {
      out.push_back(text.substr(pos, nl - pos));
    }
    pos = nl + 1;
  }
  return out;
}

std::string quoted(const std::string& text) {
  rapidjson::Document d;
  d.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), d.GetAllocator());
  return json::to_compact(d);
}

// The real logs the tests wrap: audit2rbac's and Falco's traces, as kube-apiserver wrote them.
std::vector<std::string> real_events() {
  std::vector<std::string> out;
  for (const char* f : {"audit2rbac-demo-v1.jsonl", "falco-k8s-audit-trace-files.jsonl"}) {
    for (auto& l : lines_of(read_file(kData + f))) {
      out.push_back(std::move(l));
    }
  }
  return out;
}

std::string aks_line(const std::string& event) {
  return R"({"time":"2026-03-01T12:00:00Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/prod","category":"kube-audit","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read","properties":{"log":)" +
         quoted(event) + R"(,"stream":"stdout","pod":"kube-apiserver-0"}})";
}

std::string gke_line(int i, const std::string& user, const std::string& resource_name) {
  return R"({"insertId":"ins-)" + std::to_string(i) +
         R"(","logName":"projects/p/logs/cloudaudit.googleapis.com%2Fdata_access","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":")" +
         user + R"("},"methodName":"io.k8s.core.v1.secrets.get","resourceName":")" + resource_name +
         R"(","requestMetadata":{"callerIp":"198.51.100.)" + std::to_string(i % 250) +
         R"("},"serviceName":"k8s.io","status":{"code":7}},"resource":{"type":"k8s_cluster","labels":{"cluster_name":"prod"}},"timestamp":"2026-03-01T12:00:)" +
         (i < 10 ? "0" : "") + std::to_string(i % 60) + R"(.5Z"})";
}

void write_gzip(const std::string& path, const std::string& content) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
}

struct Ingested {
  long long read, stored, duplicates, rejected;
};

Ingested ingest(const std::string& db, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"ingest", "--db", db, "-o", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_ktrail(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return {json_number(r.out, "read"), json_number(r.out, "stored"),
          json_number(r.out, "duplicates"), json_number(r.out, "rejected")};
}

TEST(ManagedFormatsCli, EveryExportShapeStoredOnceAndReplaysAddNothing) {
  TempDir dir;
  const auto events = real_events();
  std::string joined;
  for (const auto& e : events) {
    joined += e + "\n";
  }
  const auto expected = static_cast<long long>(distinct_events({joined}));
  ASSERT_GT(expected, 50);

  // EKS: half as `aws logs filter-log-events` output, half as subscription deliveries (one per
  // line, with a control message), and all again as an S3 export (gzip).
  const std::size_t half = events.size() / 2;
  std::string filter = R"({"events":[)";
  std::string deliveries =
      R"({"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[]})"
      "\n";
  std::string s3;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::string ev = R"({"id":")" + std::to_string(i) + R"(","timestamp":1700000000000,"message":)" +
                           quoted(events[i]) + "}";
    if (i < half) {
      filter += (i == 0 ? "" : ",") + ev;
    } else {
      deliveries += R"({"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-0","subscriptionFilters":["ktrail"],"logEvents":[)" +
                    ev + "]}\n";
    }
    s3 += "2023-11-14T22:13:20.000Z " + events[i] + "\n";
  }
  filter += R"(],"searchedLogStreams":[]})";
  write_file(dir.file("filter.json"), filter);
  write_file(dir.file("deliveries.jsonl"), deliveries);
  write_gzip(dir.file("000000.gz"), s3);

  auto eks = ingest(dir.file("eks.db"),
                    {"--format", "eks", dir.file("filter.json"), dir.file("deliveries.jsonl")});
  EXPECT_EQ(eks.stored, expected);
  EXPECT_EQ(eks.rejected, 0);
  // The S3 export holds the same events: auto detection reads it, and it adds nothing.
  auto s3_again = ingest(dir.file("eks.db"), {dir.file("000000.gz")});
  EXPECT_EQ(s3_again.stored, 0);
  EXPECT_EQ(s3_again.rejected, 0);
  EXPECT_EQ(s3_again.duplicates, static_cast<long long>(events.size()));

  // AKS: one record per line, and the same again in an Event Hubs {"records": [...]} document.
  std::string aks, hub = R"({"records":[)";
  for (std::size_t i = 0; i < events.size(); ++i) {
    aks += aks_line(events[i]) + "\n";
    hub += (i == 0 ? "" : ",") + aks_line(events[i]);
  }
  hub += "]}";
  write_file(dir.file("aks.jsonl"), aks);
  write_file(dir.file("hub.json"), hub);
  auto from_aks = ingest(dir.file("aks.db"), {dir.file("aks.jsonl")});
  EXPECT_EQ(from_aks.stored, expected);
  EXPECT_EQ(from_aks.rejected, 0);
  EXPECT_EQ(ingest(dir.file("aks.db"), {"--format", "aks", dir.file("hub.json")}).stored, 0);

  // The same events stored from EKS and AKS exports are the same store.
  StoreReader a(dir.file("eks.db")), b(dir.file("aks.db"));
  const char* q = "SELECT audit_id || '|' || stage || '|' || coalesce(verb, '') || '|' || coalesce(username, '') FROM audit_events "
                  "ORDER BY 1";
  EXPECT_EQ(a.strings(q), b.strings(q));

  // GKE: entries denied reading secrets; replayed, nothing added; queries see the mapping.
  std::string gke;
  for (int i = 0; i < 40; ++i) {
    gke += gke_line(i, i % 2 == 0 ? "mallory@example.com" : "eve@example.com",
                    "core/v1/namespaces/prod/secrets/db-" + std::to_string(i)) +
           "\n";
  }
  write_file(dir.file("gke.jsonl"), gke);
  auto from_gke = ingest(dir.file("gke.db"), {"--format", "gke", dir.file("gke.jsonl")});
  EXPECT_EQ(from_gke.stored, 40);
  auto gke_again = ingest(dir.file("gke.db"), {dir.file("gke.jsonl")});
  EXPECT_EQ(gke_again.stored, 0);
  EXPECT_EQ(gke_again.duplicates, 40);
  auto q1 = run_ktrail({"query", "audit", "--db", dir.file("gke.db"), "--user",
                        "mallory@example.com", "--resource", "secrets", "--namespace", "prod",
                        "--code", "403", "-o", "json", "--since", "2026-03-01T00:00:00Z",
                        "--until", "2026-03-02T00:00:00Z"});
  ASSERT_EQ(q1.exit_code, 0) << q1.err;
  std::size_t hits = 0;
  for (std::size_t at = q1.out.find("\"auditID\""); at != std::string::npos;
       at = q1.out.find("\"auditID\"", at + 1)) {
    ++hits;
  }
  EXPECT_EQ(hits, 20u) << q1.out.substr(0, 2000);
}

TEST(ManagedFormatsCli, MixedAndUnknownInputIsKeptAsideWithLineAndReason) {
  TempDir dir;
  std::string mixed;
  for (int i = 0; i < 4; ++i) {
    mixed += gke_line(i, "alice@example.com", "core/v1/namespaces/a/secrets/s") + "\n";
  }
  mixed += aks_line(real_events()[0]) + "\n";        // line 5
  mixed += R"({"hello":"world"})" "\n";               // line 6
  mixed += gke_line(9, "alice@example.com", "core/v1/nodes/n") + "\n";
  write_file(dir.file("mixed.jsonl"), mixed);
  auto r = ingest(dir.file("k.db"), {dir.file("mixed.jsonl")});
  EXPECT_EQ(r.read, 7);
  EXPECT_EQ(r.stored, 5);
  EXPECT_EQ(r.rejected, 2);
  StoreReader store(dir.file("k.db"));
  const auto reasons = store.strings("SELECT reason FROM dead_letters ORDER BY id");
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[0].find("mixed.jsonl:5: mixed formats: an AKS diagnostic record in an input "
                            "whose first record is a GKE Cloud Audit Logs entry"),
            std::string::npos)
      << reasons[0];
  EXPECT_NE(reasons[1].find("mixed.jsonl:6: not a record of a known format"), std::string::npos)
      << reasons[1];

  // An explicit format refuses what is not its own; a bad --format is a usage error.
  auto wrong = ingest(dir.file("w.db"), {"--format", "aks", dir.file("mixed.jsonl")});
  EXPECT_EQ(wrong.stored, 1);  // the AKS record only
  EXPECT_EQ(wrong.rejected, 6);
  auto bad = run_ktrail({"ingest", "--db", dir.file("k.db"), "--format", "splunk", "-"}, "");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown format 'splunk'"), std::string::npos) << bad.err;
  auto events = run_ktrail({"ingest", "--db", dir.file("k.db"), "--format", "gke", "--kind",
                            "events", dir.file("mixed.jsonl")});
  EXPECT_EQ(events.exit_code, 2);
}

TEST(ManagedFormatsCli, SecretValuesInExportsAreNeverStored) {
  TempDir dir;
  const std::string value = "c3VwZXItc2VjcmV0LXZhbHVlLTQy";  // what no file may hold
  const std::string secret = R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},"data":{"password":")" +
                             value + R"("}})";
  // GKE: a create whose request and response carry the Secret.
  std::string gke = gke_line(1, "alice@example.com", "core/v1/namespaces/prod/secrets/db");
  gke.replace(gke.find("io.k8s.core.v1.secrets.get"), 26, "io.k8s.core.v1.secrets.create");
  gke.replace(gke.find(R"("status":{"code":7})"), 19,
              R"("status":{"code":0},"request":)" + secret + R"(,"response":)" + secret);
  // AKS: a stored event and one that is rejected (no auditID), both carrying the Secret.
  const std::string event =
      R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"s-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/secrets","verb":"create","user":{"username":"bob"},"objectRef":{"resource":"secrets","namespace":"prod","name":"db","apiVersion":"v1"},"responseStatus":{"code":201},"requestObject":)" +
      secret + R"(,"requestReceivedTimestamp":"2026-03-01T12:00:00.000000Z","stageTimestamp":"2026-03-01T12:00:00.000000Z"})";
  std::string rejected = event;
  rejected.replace(rejected.find(R"("auditID":"s-1",)"), 16, "");
  write_file(dir.file("gke.jsonl"), gke + "\n");
  write_file(dir.file("aks.jsonl"), aks_line(event) + "\n" + aks_line(rejected) + "\n");
  auto g = ingest(dir.file("k.db"), {dir.file("gke.jsonl")});
  EXPECT_EQ(g.stored, 1);
  auto a = ingest(dir.file("k.db"), {dir.file("aks.jsonl")});
  EXPECT_EQ(a.stored, 1);
  EXPECT_EQ(a.rejected, 1);
  // What the store holds, decoded (events are kept compressed), and its files as they are.
  auto stored = [](const std::string& db) {
    auto events = run_ktrail({"query", "audit", "--db", db, "--full", "-o", "json", "--limit",
                              "0", "--since", "2000-01-01T00:00:00Z", "--stages", "all"});
    EXPECT_EQ(events.exit_code, 0) << events.err;
    auto dead = run_ktrail({"sql", "--db", db, "SELECT reason, raw FROM dead_letters"});
    EXPECT_EQ(dead.exit_code, 0) << dead.err;
    std::string all = events.out + dead.out;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      if (std::filesystem::exists(db + suffix)) {
        all += read_file(db + suffix);
      }
    }
    return all;
  };
  EXPECT_EQ(stored(dir.file("k.db")).find(value), std::string::npos);
  // The search finds the value when redaction is off, so its absence above means something.
  auto off = run_ktrail({"ingest", "--db", dir.file("off.db"), "--redact-secrets=false",
                         dir.file("gke.jsonl"), dir.file("aks.jsonl")});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(stored(dir.file("off.db")).find(value), std::string::npos);
}

}  // namespace
}  // namespace ktrail::testing
