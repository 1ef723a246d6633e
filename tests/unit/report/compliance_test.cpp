// Compliance reports end to end on a real SQLite store: events written through Store (which keeps
// the rollups), read back by build_compliance_report, rendered.
#include "report/compliance.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "core/audit_json.h"
#include "core/json.h"
#include "report/render.h"
#include "storage/report_sections.h"
#include "storage/store.h"

namespace ktrail {
namespace {

namespace fs = std::filesystem;

// 2026-03-01T00:00:00Z
constexpr Micros kDay0 = 1772323200LL * kMicrosPerSecond;

std::string ts(Micros t) { return format_rfc3339(t); }

struct Ev {
  std::string id;
  Micros time;
  std::string verb = "get";
  std::string user = "alice";
  std::string groups = R"(["system:authenticated"])";
  std::string impersonated = "";  // user name, or empty
  std::string resource = "pods";
  std::string subresource = "";
  std::string ns = "prod";
  std::string name = "x";
  int code = 200;
  std::string stage = "ResponseComplete";
  std::string request_object = "";  // JSON, or empty
  std::string level = "Metadata";
};

std::string event_json(const Ev& e) {
  std::string j = R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":")" + e.level +
                  R"(","auditID":")" + e.id + R"(","stage":")" + e.stage +
                  R"(","requestURI":"/x","verb":")" + e.verb + R"(","user":{"username":")" +
                  e.user + R"(","groups":)" + e.groups + "}";
  if (!e.impersonated.empty()) {
    j += R"(,"impersonatedUser":{"username":")" + e.impersonated + R"("})";
  }
  j += R"(,"sourceIPs":["10.0.0.9"],"objectRef":{"resource":")" + e.resource + "\"";
  if (!e.subresource.empty()) {
    j += R"(,"subresource":")" + e.subresource + "\"";
  }
  if (!e.ns.empty()) {
    j += R"(,"namespace":")" + e.ns + "\"";
  }
  if (!e.name.empty()) {
    j += R"(,"name":")" + e.name + "\"";
  }
  j += R"(},"responseStatus":{"metadata":{},"code":)" + std::to_string(e.code) + "}";
  if (!e.request_object.empty()) {
    j += R"(,"requestObject":)" + e.request_object;
  }
  j += R"(,"requestReceivedTimestamp":")" + ts(e.time) + R"(","stageTimestamp":")" + ts(e.time) +
       "\"}";
  return j;
}

AuditEvent decode(const Ev& e) {
  DecodedAudit d;
  decode_audit_line(event_json(e), &d);
  EXPECT_EQ(d.events.size(), 1u) << event_json(e);
  return d.events.empty() ? AuditEvent{} : d.events.front();
}

class ComplianceReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ktrail-report-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    StoreOptions options;
    options.clock = &clock_;  // dead letters are stamped with the time they arrive
    auto store = Store::open((dir_ / "k.db").string(), options);
    ASSERT_TRUE(store) << store.status().message();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  BatchOutcome write(const std::vector<Ev>& events, const std::string& origin = "file a.log") {
    Batch b;
    b.origin = origin;
    for (const Ev& e : events) {
      b.audit.push_back(decode(e));
    }
    auto out = store_->write_batch(b);
    EXPECT_TRUE(out) << out.status().message();
    return out ? *out : BatchOutcome{};
  }

  ktrail::report::ComplianceReport make_report(bool details = false, Micros since = kDay0,
                                              Micros until = kDay0 + 3600 * kMicrosPerSecond) {
    ktrail::report::ReportOptions o;
    o.since = since;
    o.until = until;
    o.now = until;
    o.details = details;
    auto r = ktrail::report::build_compliance_report({store_.get()}, o);
    EXPECT_TRUE(r) << r.status().message();
    return r ? *r : ktrail::report::ComplianceReport{};
  }

  struct FixedClock final : Clock {
    Micros now() const override { return kDay0 + 30 * kMicrosPerSecond; }
  };
  FixedClock clock_;
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

const report::Section& section(const report::ComplianceReport& r, const std::string& key) {
  for (const auto& s : r.sections) {
    if (s.key == key) {
      return s;
    }
  }
  static report::Section none;
  ADD_FAILURE() << "no section " << key;
  return none;
}

}  // namespace

TEST(ReportSections, ClassifiesByWhatTheEventSays) {
  auto hits = [](const Ev& e) {
    std::vector<storage::SectionHit> h;
    storage::classify(decode(e), &h);
    std::vector<std::pair<int, std::string>> out;
    for (const auto& x : h) {
      out.emplace_back(static_cast<int>(x.section), x.detail);
    }
    return out;
  };
  using S = storage::ReportSection;
  Ev secret{"s", kDay0, "list", "alice"};
  secret.resource = "secrets";
  EXPECT_EQ(hits(secret), (std::vector<std::pair<int, std::string>>{{int(S::kSecretAccess), ""}}));
  secret.stage = "RequestReceived";  // counted once, at ResponseComplete
  EXPECT_TRUE(hits(secret).empty());

  Ev exec{"e", kDay0, "create"};
  exec.subresource = "exec";
  EXPECT_EQ(hits(exec), (std::vector<std::pair<int, std::string>>{
                            {int(S::kExecAttachPortforward), ""}}));

  Ev binding{"b", kDay0, "create", "mallory"};
  binding.resource = "clusterrolebindings";
  binding.ns = "";
  binding.name = "pwn";
  binding.level = "Request";
  binding.request_object =
      R"({"kind":"ClusterRoleBinding","roleRef":{"kind":"ClusterRole","name":"cluster-admin"},)"
      R"("subjects":[{"kind":"User","name":"mallory"}]})";
  EXPECT_EQ(hits(binding),
            (std::vector<std::pair<int, std::string>>{
                {int(S::kRbacChanges), "roleRef ClusterRole/cluster-admin; subjects User/mallory"},
                {int(S::kPrivilegeEscalation), "binding to cluster-admin"}}));

  Ev pod{"p", kDay0, "create"};
  pod.level = "Request";
  pod.request_object =
      R"({"spec":{"hostPID":true,"containers":[{"name":"c","securityContext":{"privileged":true}}],)"
      R"("volumes":[{"name":"v","hostPath":{"path":"/etc"}}]}})";
  EXPECT_EQ(hits(pod), (std::vector<std::pair<int, std::string>>{
                           {int(S::kPrivilegedPods),
                            "hostPID; privileged container c; hostPath /etc"}}));
  Ev plain_pod = pod;
  plain_pod.request_object = R"({"spec":{"containers":[{"name":"c"}]}})";
  EXPECT_TRUE(hits(plain_pod).empty());

  Ev anon{"a", kDay0, "get", "system:anonymous"};
  anon.groups = R"(["system:unauthenticated"])";
  anon.code = 403;
  EXPECT_EQ(hits(anon), (std::vector<std::pair<int, std::string>>{
                            {int(S::kAnonymousRequests), ""}, {int(S::kDeniedRequests), ""}}));

  Ev imp{"i", kDay0, "get", "system:admin"};
  imp.impersonated = "bob";
  imp.code = 403;
  EXPECT_EQ(hits(imp), (std::vector<std::pair<int, std::string>>{
                           {int(S::kPrivilegeEscalation), "impersonation"},
                           {int(S::kImpersonation), ""},
                           {int(S::kDeniedRequests), ""}}));
}

TEST_F(ComplianceReportTest, SectionsNameTheActingIdentityAndCountOnce) {
  std::vector<Ev> events;
  for (int i = 0; i < 5; ++i) {
    Ev e{"sec-" + std::to_string(i), kDay0 + i * kMicrosPerSecond, i < 3 ? "get" : "list"};
    e.resource = "secrets";
    e.name = i < 3 ? "db-password" : "";
    events.push_back(e);
  }
  Ev denied{"den-1", kDay0 + 10 * kMicrosPerSecond, "list", "system:admin"};
  denied.impersonated = "bob";
  denied.code = 403;
  events.push_back(denied);
  Ev denied_started = denied;  // a watch's earlier stage is not counted again
  denied_started.stage = "RequestReceived";
  events.push_back(denied_started);
  // Lease updates every minute keep the record without gaps for the first 20 minutes.
  for (int m = 0; m < 20; ++m) {
    Ev lease{"lease-" + std::to_string(m), kDay0 + m * 60 * kMicrosPerSecond, "update",
             "system:node:n1"};
    lease.resource = "leases";
    events.push_back(lease);
  }
  write(events);
  // A replay changes nothing.
  const BatchOutcome again = write(events);
  EXPECT_EQ(again.stored, 0u);

  const report::ComplianceReport r = make_report(true);
  const auto& secrets = section(r, "secret-access");
  EXPECT_EQ(secrets.total, 5);
  ASSERT_EQ(secrets.rows.size(), 2u);
  EXPECT_EQ(secrets.rows[0].verb, "get");
  EXPECT_EQ(secrets.rows[0].count, 3);
  EXPECT_EQ(secrets.rows[0].objects, std::vector<std::string>{"secrets prod/db-password"});
  EXPECT_EQ(secrets.rows[0].first, kDay0);
  EXPECT_EQ(secrets.rows[0].last, kDay0 + 2 * kMicrosPerSecond);
  EXPECT_EQ(secrets.rows[0].audit_ids,
            (std::vector<std::string>{"sec-0", "sec-1", "sec-2"}));

  for (const char* key : {"denied-requests", "impersonation"}) {
    const auto& s = section(r, key);
    ASSERT_EQ(s.rows.size(), 1u) << key;
    EXPECT_EQ(s.rows[0].user, "system:admin");
    EXPECT_EQ(s.rows[0].impersonated_user, "bob");
    EXPECT_EQ(s.rows[0].count, 1);
    EXPECT_EQ(s.rows[0].audit_ids, std::vector<std::string>{"den-1"});
  }
  EXPECT_EQ(section(r, "denied-requests").rows[0].code, 403);
  EXPECT_EQ(section(r, "denied-requests").rows[0].source_ips, R"(["10.0.0.9"])");
  EXPECT_EQ(section(r, "rbac-changes").total, 0);

  // Coverage: one source, silent from minute 20 to the end of the hour: one gap, in the warnings.
  ASSERT_EQ(r.coverage.sources.size(), 1u);
  EXPECT_EQ(r.coverage.sources[0].source, "file a.log");
  EXPECT_EQ(r.coverage.sources[0].events, 27);  // every stored event, any stage
  ASSERT_EQ(r.coverage.gaps.size(), 1u);
  EXPECT_EQ(r.coverage.gaps[0].from, kDay0 + 20 * 60 * kMicrosPerSecond);
  bool warned = false;
  for (const auto& w : r.warnings) {
    warned = warned || w.find("cannot vouch") != std::string::npos;
  }
  EXPECT_TRUE(warned);
  // The replay's duplicates are counted as coverage evidence.
  bool duplicates = false;
  for (const auto& c : r.coverage.counters) {
    duplicates = duplicates || (c.counter == "duplicates" && c.count == 27);
  }
  EXPECT_TRUE(duplicates);
}

TEST_F(ComplianceReportTest, PolicyDropsAndLoweredLevelsAreCoverageEvidence) {
  ASSERT_TRUE(store_->record_policy("ktrail serve", "sha256:aa", "policy text", kDay0).is_ok());
  ASSERT_TRUE(store_->record_policy("ktrail serve", "sha256:aa", "policy text", kDay0 + 1).is_ok());
  Batch b;
  b.origin = "webhook 10.1.2.3:50123";
  Ev kept{"k1", kDay0, "get"};
  AuditEvent e = decode(kept);
  e.level_received = Level::kRequestResponse;  // the policy lowered it to Metadata
  b.audit.push_back(e);
  b.tallies.push_back({kDay0, "dropped by policy: level None"});
  b.tallies.push_back({kDay0, "dropped by policy: level None"});
  b.rejected.push_back({"not JSON", "{"});
  ASSERT_TRUE(store_->write_batch(b));

  const report::ComplianceReport r = make_report();
  std::map<std::string, std::int64_t> counters;
  for (const auto& c : r.coverage.counters) {
    EXPECT_EQ(c.source, "webhook 10.1.2.3");
    counters[c.counter] += c.count;
  }
  EXPECT_EQ(counters["dropped by policy: level None"], 2);
  EXPECT_EQ(counters["level lowered: RequestResponse to Metadata"], 1);
  EXPECT_EQ(counters["audit policy sha256:aa"], 1);
  ASSERT_EQ(r.coverage.dead_letters.size(), 1u);
  EXPECT_EQ(r.coverage.dead_letters[0].reason, "not JSON");
  ASSERT_EQ(r.coverage.policies.size(), 1u);  // the same digest is recorded once
  EXPECT_EQ(r.coverage.policies[0].digest, "sha256:aa");
}

TEST_F(ComplianceReportTest, RenderingsCarryTheSameContent) {
  Ev e{"r1", kDay0, "create", "system:admin"};
  e.resource = "clusterrolebindings";
  e.ns = "";
  e.name = "evil<script>";
  e.impersonated = "bob";
  write({e});
  report::ReportOptions o;
  o.since = kDay0;
  o.until = kDay0;
  o.now = kDay0 + 60 * kMicrosPerSecond;
  o.framework = report::Framework::kPciDss;
  auto r = report::build_compliance_report({store_.get()}, o);
  ASSERT_TRUE(r) << r.status().message();

  std::ostringstream json;
  report::render_report(*r, report::ReportFormat::kJson, json);
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(json.str(), &doc).is_ok()) << json.str();
  ASSERT_TRUE(doc["sections"].IsObject());
  for (const char* key : {"secret-access", "exec-attach-portforward", "rbac-changes",
                          "privilege-escalation", "privileged-pods", "anonymous-requests",
                          "denied-requests", "impersonation", "node-maintenance", "findings"}) {
    EXPECT_TRUE(doc["sections"].HasMember(key)) << key;
  }
  const auto& rbac = doc["sections"]["rbac-changes"];
  EXPECT_EQ(rbac["total"].GetInt64(), 1);
  EXPECT_STREQ(rbac["rows"][0]["impersonatedUser"].GetString(), "bob");
  EXPECT_STREQ(rbac["controls"][0].GetString(), "PCI DSS 10.2.1.2");
  EXPECT_STREQ(doc["sections"]["coverage"]["controls"][0].GetString(), "PCI DSS 10.2.1.6");
  EXPECT_TRUE(doc["sections"]["coverage"]["rollupsSince"].IsNull());
  EXPECT_STREQ(doc["since"].GetString(), "2026-03-01T00:00:00.000000Z");
  EXPECT_STREQ(doc["until"].GetString(), "2026-03-01T23:59:59.999999Z");

  std::ostringstream html;
  report::render_report(*r, report::ReportFormat::kHtml, html);
  const std::string page = html.str();
  EXPECT_EQ(page.find("evil<script>"), std::string::npos);
  EXPECT_NE(page.find("evil&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);  // nothing fetched
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_NE(page.find("<svg"), std::string::npos);

  std::ostringstream md;
  report::render_report(*r, report::ReportFormat::kMarkdown, md);
  EXPECT_NE(md.str().find("| rbac-changes | 1 |"), std::string::npos) << md.str();

  std::ostringstream csv;
  report::render_report(*r, report::ReportFormat::kCsv, csv);
  EXPECT_EQ(csv.str().rfind("section,user,", 0), 0u) << csv.str();
  EXPECT_NE(csv.str().find("rbac-changes,system:admin,bob,create,clusterrolebindings"),
            std::string::npos)
      << csv.str();
}

}  // namespace ktrail
