// Managed services' audit exports (ingest/managed_formats.h): each shape of EKS, GKE and AKS
// export mapped to audit events field by field, auto detection per input, mixed and unknown
// input rejected with the reason, stable auditIDs, and hostile records.
#include "ingest/managed_formats.h"

#include <gtest/gtest.h>

#include "core/json.h"
#include "ingest/managed_gke.h"
#include "ingest/managed_ids.h"

namespace ktrail::ingest {
namespace {

// A GKE entry in the shape Cloud Logging exports (fields as documented for LogEntry and AuditLog).
std::string gke_entry(const std::string& insert_id, const std::string& method,
                      const std::string& resource, const std::string& extra = "") {
  return R"({"insertId":")" + insert_id +
         R"(","logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity",)"
         R"("operation":{"id":"op-)" + insert_id + R"(","producer":"k8s.io","first":true,"last":true},)"
         R"("protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog",)"
         R"("authenticationInfo":{"principalEmail":"alice@example.com"},)"
         R"("authorizationInfo":[{"granted":true,"permission":"io.k8s.core.v1.pods.get","resource":")" +
         resource + R"("}],"methodName":")" + method + R"(","resourceName":")" + resource +
         R"(","requestMetadata":{"callerIp":"203.0.113.7","callerSuppliedUserAgent":"kubectl/v1.30.0"},)"
         R"("serviceName":"k8s.io")" + extra + R"(},)"
         R"("receiveTimestamp":"2026-03-01T12:00:01.5Z",)"
         R"("resource":{"type":"k8s_cluster","labels":{"cluster_name":"prod","location":"europe-west1","project_id":"p"}},)"
         R"("timestamp":"2026-03-01T12:00:00.123456789Z",)"
         R"("labels":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC"}})";
}

std::string aks_record(const std::string& audit_id, const std::string& category = "kube-audit") {
  const std::string event = R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",)"
                            R"("auditID":")" + audit_id +
                            R"(","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods",)"
                            R"("verb":"list","user":{"username":"bob"},"sourceIPs":["10.0.0.1"],)"
                            R"("objectRef":{"resource":"pods","namespace":"default","apiVersion":"v1"},)"
                            R"("responseStatus":{"code":200},)"
                            R"("requestReceivedTimestamp":"2026-03-01T12:00:00.000000Z",)"
                            R"("stageTimestamp":"2026-03-01T12:00:00.010000Z"})";
  rapidjson::Document log;
  log.SetString(event.c_str(), static_cast<rapidjson::SizeType>(event.size()), log.GetAllocator());
  return R"({"time":"2026-03-01T12:00:00.0100000Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/prod",)"
         R"("category":")" + category +
         R"(","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",)"
         R"("properties":{"log":)" + json::to_compact(log) + R"(,"stream":"stdout","pod":"kube-apiserver-1"}})";
}

std::string native(const std::string& audit_id) {
  return R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":")" +
         audit_id +
         R"(","stage":"ResponseComplete","requestURI":"/api/v1/nodes","verb":"list",)"
         R"("user":{"username":"carol"},"sourceIPs":["10.0.0.2"],)"
         R"("objectRef":{"resource":"nodes","apiVersion":"v1"},"responseStatus":{"code":200},)"
         R"("requestReceivedTimestamp":"2026-03-01T12:00:00.000000Z",)"
         R"("stageTimestamp":"2026-03-01T12:00:00.001000Z"})";
}

std::string escaped(const std::string& text) {
  rapidjson::Document d;
  d.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), d.GetAllocator());
  return json::to_compact(d);
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  EXPECT_TRUE(json::parse(text, &d).is_ok()) << text;
  return d;
}

Batch decode_lines(SourceFormat format, const std::vector<std::string>& lines) {
  auto decoder = make_format_decoder(format);
  Batch batch;
  for (const auto& line : lines) {
    decoder->decode_line(line, &batch);
  }
  return batch;
}

TEST(ManagedFormats, GkeEntryMapsEveryDocumentedField) {
  const auto entry = parse(gke_entry(
      "ins-1", "io.k8s.core.v1.pods.exec.create", "core/v1/namespaces/shop/pods/web-0/exec"));
  std::string out;
  ASSERT_TRUE(convert_gke_entry(entry, &out).is_ok());
  const auto e = parse(out);
  EXPECT_STREQ(e["auditID"].GetString(), "ins-1");
  EXPECT_STREQ(e["verb"].GetString(), "create");
  EXPECT_STREQ(e["stage"].GetString(), "ResponseStarted");  // a stream was opened
  EXPECT_STREQ(e["level"].GetString(), "Metadata");
  EXPECT_STREQ(e["user"]["username"].GetString(), "alice@example.com");
  EXPECT_STREQ(e["sourceIPs"][0].GetString(), "203.0.113.7");
  EXPECT_STREQ(e["userAgent"].GetString(), "kubectl/v1.30.0");
  EXPECT_STREQ(e["objectRef"]["namespace"].GetString(), "shop");
  EXPECT_STREQ(e["objectRef"]["resource"].GetString(), "pods");
  EXPECT_STREQ(e["objectRef"]["name"].GetString(), "web-0");
  EXPECT_STREQ(e["objectRef"]["subresource"].GetString(), "exec");
  EXPECT_STREQ(e["objectRef"]["apiGroup"].GetString(), "");
  EXPECT_STREQ(e["objectRef"]["apiVersion"].GetString(), "v1");
  EXPECT_STREQ(e["requestURI"].GetString(), "/api/v1/namespaces/shop/pods/web-0/exec");
  EXPECT_EQ(e["responseStatus"]["code"].GetInt(), 101);
  EXPECT_STREQ(e["requestReceivedTimestamp"].GetString(), "2026-03-01T12:00:00.123456Z");
  EXPECT_STREQ(e["stageTimestamp"].GetString(), "2026-03-01T12:00:00.123456Z");
  EXPECT_STREQ(e["annotations"]["authorization.k8s.io/decision"].GetString(), "allow");
  EXPECT_STREQ(e["annotations"]["gke.ktrail.io/operation-id"].GetString(), "op-ins-1");
}

TEST(ManagedFormats, GkeResourceNamesOfEveryShape) {
  struct Case {
    std::string resource, uri, ns, res, name, sub, group;
  };
  const std::vector<Case> cases = {
      {"core/v1/nodes", "/api/v1/nodes", "", "nodes", "", "", ""},
      {"core/v1/nodes/n1", "/api/v1/nodes/n1", "", "nodes", "n1", "", ""},
      {"core/v1/nodes/n1/status", "/api/v1/nodes/n1/status", "", "nodes", "n1", "status", ""},
      {"core/v1/namespaces/default", "/api/v1/namespaces/default", "", "namespaces", "default", "",
       ""},
      {"core/v1/namespaces/old/finalize", "/api/v1/namespaces/old/finalize", "", "namespaces",
       "old", "finalize", ""},
      {"core/v1/namespaces/shop/secrets", "/api/v1/namespaces/shop/secrets", "shop", "secrets", "",
       "", ""},
      {"apps/v1/namespaces/shop/deployments/web", "/apis/apps/v1/namespaces/shop/deployments/web",
       "shop", "deployments", "web", "", "apps"},
      {"rbac.authorization.k8s.io/v1/clusterrolebindings/admin",
       "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/admin", "", "clusterrolebindings",
       "admin", "", "rbac.authorization.k8s.io"},
  };
  for (const auto& c : cases) {
    std::string out;
    ASSERT_TRUE(convert_gke_entry(parse(gke_entry("i", "io.k8s.x.get", c.resource)), &out).is_ok());
    const auto e = parse(out);
    EXPECT_STREQ(e["requestURI"].GetString(), c.uri.c_str()) << c.resource;
    const auto& ref = e["objectRef"];
    EXPECT_EQ(ref.HasMember("namespace") ? ref["namespace"].GetString() : "", c.ns) << c.resource;
    EXPECT_STREQ(ref["resource"].GetString(), c.res.c_str()) << c.resource;
    EXPECT_EQ(ref.HasMember("name") ? ref["name"].GetString() : "", c.name) << c.resource;
    EXPECT_EQ(ref.HasMember("subresource") ? ref["subresource"].GetString() : "", c.sub)
        << c.resource;
    EXPECT_STREQ(ref["apiGroup"].GetString(), c.group.c_str()) << c.resource;
  }
  // Not a resource path: the URI is kept, no objectRef invented.
  std::string out;
  ASSERT_TRUE(convert_gke_entry(parse(gke_entry("i", "io.k8s.get", "healthz")), &out).is_ok());
  EXPECT_FALSE(parse(out).HasMember("objectRef"));
  EXPECT_STREQ(parse(out)["requestURI"].GetString(), "/healthz");
}

TEST(ManagedFormats, GkeStatusLevelStageAndDecision) {
  // Denied: google.rpc PERMISSION_DENIED is 403; the checks say forbid when labels do not.
  std::string denied = gke_entry("d", "io.k8s.core.v1.secrets.get",
                                 "core/v1/namespaces/shop/secrets/db",
                                 R"(,"status":{"code":7,"message":"forbidden"})");
  denied.replace(denied.rfind(R"("labels":{)"), std::string(R"("labels":{)").size(),
                 R"("labels_":{)");  // the entry's labels, not the resource's
  denied.replace(denied.find(R"("granted":true)"), 14, R"("granted":false)");
  std::string out;
  ASSERT_TRUE(convert_gke_entry(parse(denied), &out).is_ok());
  auto e = parse(out);
  EXPECT_EQ(e["responseStatus"]["code"].GetInt(), 403);
  EXPECT_STREQ(e["responseStatus"]["message"].GetString(), "forbidden");
  EXPECT_STREQ(e["annotations"]["authorization.k8s.io/decision"].GetString(), "forbid");

  for (const auto& [rpc, http] : std::vector<std::pair<int, int>>{
           {0, 200}, {3, 400}, {5, 404}, {6, 409}, {7, 403}, {8, 429}, {16, 401}, {14, 503},
           {13, 500}, {99, 500}, {-1, 500}}) {
    EXPECT_EQ(http_status_of_rpc_code(rpc), http) << rpc;
  }

  // A create with a request and a response; the first entry of a long request.
  std::string create = gke_entry("c", "io.k8s.apps.v1.deployments.create",
                                 "apps/v1/namespaces/shop/deployments",
                                 R"(,"request":{"kind":"Deployment"},"response":{"kind":"Deployment"})");
  create.replace(create.find(R"("last":true)"), 11, R"("last":false)");
  ASSERT_TRUE(convert_gke_entry(parse(create), &out).is_ok());
  e = parse(out);
  EXPECT_EQ(e["responseStatus"]["code"].GetInt(), 201);
  EXPECT_STREQ(e["level"].GetString(), "RequestResponse");
  EXPECT_STREQ(e["stage"].GetString(), "ResponseStarted");
  EXPECT_STREQ(e["requestObject"]["kind"].GetString(), "Deployment");
}

TEST(ManagedFormats, GkeEntriesThatCannotBeMappedSayWhy) {
  std::string out;
  auto reason = [&](const std::string& text) {
    Status s = convert_gke_entry(parse(text), &out);
    EXPECT_FALSE(s.is_ok()) << text;
    return s.message();
  };
  EXPECT_NE(reason(R"({"protoPayload":{"serviceName":"compute.googleapis.com","methodName":"v1.compute.instances.insert"},"timestamp":"2026-03-01T12:00:00Z"})")
                .find("not Kubernetes"),
            std::string::npos);
  EXPECT_NE(reason(R"({"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.get"}})")
                .find("timestamp"),
            std::string::npos);
  EXPECT_NE(reason(R"({"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.get"},"timestamp":"yesterday"})")
                .find("timestamp"),
            std::string::npos);
  EXPECT_NE(reason(R"({"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s."},"timestamp":"2026-03-01T12:00:00Z"})")
                .find("verb"),
            std::string::npos);
  EXPECT_NE(reason(R"({"protoPayload":"k8s.io","timestamp":"2026-03-01T12:00:00Z"})").find("protoPayload"),
            std::string::npos);
  // Hostile but readable: wrong types are ignored, nothing crashes.
  ASSERT_TRUE(convert_gke_entry(parse(R"({"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.get",)"
                                      R"("resourceName":"////","authenticationInfo":7,"requestMetadata":[],"status":{"code":"7"},)"
                                      R"("authorizationInfo":[1,null]},"labels":{"a":1,"b":"x"},"operation":"op",)"
                                      R"("timestamp":"2026-03-01T12:00:00Z"})"),
                                &out)
                  .is_ok());
  const auto e = parse(out);
  EXPECT_EQ(e["responseStatus"]["code"].GetInt(), 200);
  EXPECT_STREQ(e["annotations"]["authorization.k8s.io/decision"].GetString(), "forbid");
  EXPECT_FALSE(e["annotations"].HasMember("a"));
}

TEST(ManagedFormats, DerivedAuditIdsAreStableAndDistinct) {
  const std::string a = R"({"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.get"},"timestamp":"2026-03-01T12:00:00Z"})";
  const std::string b = R"({"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.list"},"timestamp":"2026-03-01T12:00:00Z"})";
  std::string x, y, z;
  ASSERT_TRUE(convert_gke_entry(parse(a), &x).is_ok());
  ASSERT_TRUE(convert_gke_entry(parse(a), &y).is_ok());
  ASSERT_TRUE(convert_gke_entry(parse(b), &z).is_ok());
  const std::string id = parse(x)["auditID"].GetString();
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id, parse(y)["auditID"].GetString());
  EXPECT_NE(id, parse(z)["auditID"].GetString());
  EXPECT_EQ(derived_audit_id("abc"), derived_audit_id("abc"));
  EXPECT_NE(derived_audit_id("abc"), derived_audit_id("abd"));
}

TEST(ManagedFormats, AksRecordsAloneAndWrapped) {
  Batch got = decode_lines(SourceFormat::kAks,
                           {aks_record("a1"), "{\"records\":[" + aks_record("a2") + "," +
                                                  aks_record("a3", "kube-audit-admin") + "]}"});
  ASSERT_EQ(got.audit.size(), 3u);
  EXPECT_TRUE(got.rejected.empty());
  EXPECT_EQ(got.audit[0].audit_id, "a1");
  EXPECT_EQ(got.audit[2].audit_id, "a3");

  // Other categories, a log that is not an event, and an event that is not valid.
  got = decode_lines(SourceFormat::kAks,
                     {aks_record("x", "kube-apiserver"),
                      R"({"category":"kube-audit","properties":{"log":"I0301 12:00:00 started"}})",
                      R"({"category":"kube-audit","properties":{"log":"{\"kind\":\"Event\"}"}})"});
  EXPECT_TRUE(got.audit.empty());
  ASSERT_EQ(got.rejected.size(), 3u);
  EXPECT_NE(got.rejected[0].reason.find("kube-apiserver"), std::string::npos);
  EXPECT_NE(got.rejected[1].reason.find("properties.log"), std::string::npos);
  EXPECT_NE(got.rejected[2].reason.find("AKS diagnostic record: not an audit event: missing 'auditID'"), std::string::npos)
      << got.rejected[2].reason;
  EXPECT_NE(got.rejected[2].raw.find("\"category\""), std::string::npos);  // kept as received
}

TEST(ManagedFormats, EksCloudWatchShapes) {
  const std::string m1 = escaped(native("e1")), m2 = escaped(native("e2")),
                    m3 = escaped(native("e3"));
  // filter-log-events output, a subscription delivery, a control message, a log event per line,
  // a plain audit line and an S3 export line.
  Batch got = decode_lines(
      SourceFormat::kEks,
      {R"({"events":[{"logStreamName":"kube-apiserver-audit-1","timestamp":1,"message":)" + m1 +
           R"(,"ingestionTime":2,"eventId":"1"}],"searchedLogStreams":[]})",
       R"({"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-1","subscriptionFilters":["f"],"logEvents":[{"id":"9","timestamp":1,"message":)" +
           m2 + "}]}",
       R"({"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[]})",
       R"({"timestamp":1,"message":)" + m3 + "}", native("e4"),
       "2026-03-01T12:00:00.000Z " + native("e5")});
  EXPECT_TRUE(got.rejected.empty()) << got.rejected[0].reason;
  ASSERT_EQ(got.audit.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got.audit[static_cast<std::size_t>(i)].audit_id, "e" + std::to_string(i + 1));
  }
  // A message of another stream.
  got = decode_lines(SourceFormat::kEks,
                     {R"({"timestamp":1,"message":"time=\"2026\" level=info msg=\"access granted\""})"});
  ASSERT_EQ(got.rejected.size(), 1u);
  EXPECT_NE(got.rejected[0].reason.find("not an audit event"), std::string::npos);
}

TEST(ManagedFormats, AutoFollowsTheFirstRecordAndRefusesMixedOrUnknown) {
  // GKE first: an AKS record and a native event after it are mixed; an unknown shape is named.
  Batch got = decode_lines(SourceFormat::kAuto,
                           {gke_entry("g1", "io.k8s.core.v1.pods.get", "core/v1/namespaces/a/pods/p"),
                            aks_record("a1"), native("n1"), R"({"hello":"world"})",
                            gke_entry("g2", "io.k8s.core.v1.pods.list", "core/v1/namespaces/a/pods")});
  ASSERT_EQ(got.audit.size(), 2u);
  EXPECT_EQ(got.audit[1].audit_id, "g2");
  ASSERT_EQ(got.rejected.size(), 3u);
  EXPECT_EQ(got.rejected[0].reason,
            "mixed formats: an AKS diagnostic record in an input whose first record is a GKE "
            "Cloud Audit Logs entry");
  EXPECT_NE(got.rejected[1].reason.find("mixed formats: a Kubernetes audit event"),
            std::string::npos);
  EXPECT_NE(got.rejected[2].reason.find("not a record of a known format"), std::string::npos);

  // Native first: the native path, and a GKE entry among the events is named as such.
  got = decode_lines(SourceFormat::kAuto,
                     {native("n1"), gke_entry("g1", "io.k8s.core.v1.pods.get", "core/v1/pods"),
                      native("n2"), R"({"kind":"Event","stage":"ResponseComplete"})"});
  ASSERT_EQ(got.audit.size(), 2u);
  ASSERT_EQ(got.rejected.size(), 2u);
  EXPECT_NE(got.rejected[0].reason.find("mixed formats: a GKE Cloud Audit Logs entry"),
            std::string::npos);
  EXPECT_NE(got.rejected[1].reason.find("auditID"), std::string::npos);  // a bad native event

  // An explicit format refuses the others.
  got = decode_lines(SourceFormat::kGke, {aks_record("a1")});
  ASSERT_EQ(got.rejected.size(), 1u);
  EXPECT_EQ(got.rejected[0].reason, "an AKS diagnostic record, not a record of --format gke");
}

TEST(ManagedFormats, DocumentsArraysAndExports) {
  // gcloud logging read --format=json: an array of entries.
  auto decoder = make_format_decoder(SourceFormat::kAuto);
  Batch got;
  ASSERT_TRUE(decoder
                  ->decode_document("[" + gke_entry("g1", "io.k8s.core.v1.pods.get", "core/v1/pods") +
                                        "," + gke_entry("g2", "io.k8s.core.v1.pods.get", "core/v1/pods") +
                                        "]",
                                    &got)
                  .is_ok());
  EXPECT_EQ(got.audit.size(), 2u);

  // An S3 export read as a document: each line, numbered in reasons.
  decoder = make_format_decoder(SourceFormat::kAuto);
  got = Batch();
  ASSERT_TRUE(decoder
                  ->decode_document("2026-03-01T12:00:00.000Z " + native("s1") +
                                        "\n\n2026-03-01T12:00:01.000Z {\"kind\":\"Event\"}\n"
                                        "2026-03-01T12:00:02.000Z " + native("s2") + "\n",
                                    &got)
                  .is_ok());
  EXPECT_EQ(got.audit.size(), 2u);
  ASSERT_EQ(got.rejected.size(), 1u);
  EXPECT_EQ(got.rejected[0].reason.rfind("line 3: ", 0), 0u) << got.rejected[0].reason;

  // A native EventList keeps the native path.
  decoder = make_format_decoder(SourceFormat::kAuto);
  got = Batch();
  ASSERT_TRUE(decoder
                  ->decode_document(R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[)" +
                                        native("l1") + "," + native("l2") + "]}",
                                    &got)
                  .is_ok());
  EXPECT_EQ(got.audit.size(), 2u);
  // Not JSON at all: the native error.
  decoder = make_format_decoder(SourceFormat::kAuto);
  EXPECT_FALSE(decoder->decode_document("<html>", &got).is_ok());
}

TEST(ManagedFormats, ExportLineRecognition) {
  EXPECT_EQ(cloudwatch_export_message("2026-03-01T12:00:00.000Z {\"a\":1}"), "{\"a\":1}");
  EXPECT_TRUE(cloudwatch_export_message("{\"a\":1}").empty());
  EXPECT_TRUE(cloudwatch_export_message("2026-03-01T12:00:00.000Z plain text").empty());
  EXPECT_TRUE(cloudwatch_export_message("2026-13-01T12:00:00.000Z {}").empty());
  EXPECT_TRUE(cloudwatch_export_message("x").empty());
  EXPECT_TRUE(cloudwatch_export_message("").empty());
}

TEST(ManagedFormats, FormatNames) {
  for (const char* name : {"auto", "k8s", "eks", "gke", "aks"}) {
    auto f = parse_source_format(name);
    ASSERT_TRUE(f.is_ok()) << name;
    EXPECT_STREQ(to_string(*f), name);
  }
  EXPECT_FALSE(parse_source_format("EKS").is_ok());
  EXPECT_FALSE(parse_source_format("").is_ok());
}

}  // namespace
}  // namespace ktrail::ingest
