// ktrail's default rules: they load, their tags name every rule of Falco's k8s_audit rules file
// and every Panther Kubernetes/EKS rule, and for each Panther rule the default rules tagged with
// it fire exactly on Panther's fixtures labelled `_expected_match: true`.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <set>

#include "core/json.h"
#include "core/time.h"
#include "detect/default_rules.h"
#include "ingest/managed_formats.h"
#include "tests/unit/detect/detect_test_util.h"

namespace ktrail::detect {
namespace {

const std::string kShared = std::string(KTRAIL_SOURCE_DIR) + "/tests/data";

std::set<std::string> tags_of_default_rules() {
  RuleSet set;
  Diagnostics d;
  load_rules_text(default_rules_text(), kDefaultRulesName, &set, &d);
  EXPECT_FALSE(d.has_errors()) << testing::all_messages(d);
  std::set<std::string> tags;
  for (const auto& r : set.rules) {
    tags.insert(r.tags.begin(), r.tags.end());
  }
  return tags;
}

TEST(DefaultRules, LoadWithoutErrors) {
  Diagnostics d;
  auto engine = Engine::load({}, &d);
  ASSERT_NE(engine, nullptr) << testing::all_messages(d);
  EXPECT_GE(engine->rules().size(), 30u);
  for (const auto& i : d.items) {
    EXPECT_FALSE(i.error) << i.to_string();
  }
}

TEST(DefaultRules, TagsCoverEveryFalcoRule) {
  const auto tags = tags_of_default_rules();
  int count = 0;
  for (const auto& item : YAML::LoadFile(kShared + "/falco/k8s_audit_rules.yaml")) {
    if (item.IsMap() && item["rule"]) {
      ++count;
      const std::string name = item["rule"].as<std::string>();
      EXPECT_TRUE(tags.count("falco:" + name)) << "no default rule covers Falco's '" << name << "'";
    }
  }
  EXPECT_EQ(count, 43);
}

struct Fixture {
  std::string rule;  // Panther's rule file name without .yml
  std::string test;
  bool expected = false;
  std::string event;  // as ktrail will read it, or "" when ktrail refuses it
  std::string shape;
  std::string refused;  // why ktrail does not read it as an audit event
  // Panther's enrichment of the event: Tor exit nodes, and source addresses its IP database
  // places in a cloud provider's network.
  std::vector<std::string> tor_exit_nodes;
  std::vector<std::string> cloud_ips;
};

// Panther's fixtures are Panther-normalized events: some lack auditID, stage and timestamps,
// level and timestamps, and timestamps are written "YYYY-MM-DD hh:mm:ss". A real apiserver
// always sends those, so the missing ones are filled in (level RequestResponse when the event
// carries an object, Metadata otherwise), (stage ResponseStarted for a 101 upgrade, which the apiserver
// logs when the stream starts, ResponseComplete otherwise) and nothing else is touched.
void fill_like_apiserver(rapidjson::Value& e, rapidjson::Document::AllocatorType& a, int n) {
  if (!e.HasMember("auditID")) {
    e.AddMember("auditID", rapidjson::Value(("panther-" + std::to_string(n)).c_str(), a), a);
  }
  if (!e.HasMember("stage")) {
    const bool upgrade = e.HasMember("responseStatus") && e["responseStatus"].HasMember("code") &&
                         e["responseStatus"]["code"].IsInt() &&
                         e["responseStatus"]["code"].GetInt() == 101;
    e.AddMember("stage",
                rapidjson::Value(rapidjson::StringRef(upgrade ? "ResponseStarted"
                                                              : "ResponseComplete")),
                a);
  }
  if (!e.HasMember("level")) {
    const bool objects = e.HasMember("requestObject") || e.HasMember("responseObject");
    e.AddMember("level",
                rapidjson::Value(rapidjson::StringRef(objects ? "RequestResponse" : "Metadata")),
                a);
  }
  for (const char* key : {"requestReceivedTimestamp", "stageTimestamp"}) {
    if (e.HasMember(key)) {
      e.RemoveMember(key);
    }
    e.AddMember(rapidjson::StringRef(key),
                rapidjson::Value(rapidjson::StringRef("2026-03-01T12:00:00.000000Z")), a);
  }
}

// GKE (GCP.AuditLog) and AKS (Azure.MonitorActivity) fixtures are read as `ktrail ingest
// --format gke|aks` reads those exports (ingest/managed_formats.h). The GKE ones carry no
// timestamp, which a real entry always has; the audit events inside the AKS ones are filled in
// like the EKS ones above.
std::string convert_managed(const std::string& shape, rapidjson::Value& e,
                            rapidjson::Document::AllocatorType& a, int n, std::string* refused) {
  std::vector<std::string> events;
  if (shape == "GCP.AuditLog") {
    // Panther writes its own time layout; an export has RFC 3339, as the EKS ones above get.
    if (e.HasMember("timestamp")) {
      e.RemoveMember("timestamp");
    }
    e.AddMember("timestamp", rapidjson::StringRef("2026-03-01T12:00:00.000000Z"), a);
    Status s = ingest::convert_record(ingest::SourceFormat::kGke, e, &events);
    if (!s.is_ok()) {
      *refused = s.message();  // an entry of another Google service, say
      return "";
    }
  } else {
    const bool has_log = e.HasMember("properties") && e["properties"].IsObject() &&
                         e["properties"].HasMember("log") && e["properties"]["log"].IsString();
    if (has_log) {
      rapidjson::Document inner;
      EXPECT_TRUE(json::parse(e["properties"]["log"].GetString(), &inner).is_ok());
      fill_like_apiserver(inner, inner.GetAllocator(), n);
      const std::string text = json::to_compact(inner);
      e["properties"]["log"].SetString(text.c_str(),
                                       static_cast<rapidjson::SizeType>(text.size()), a);
    }
    Status s = ingest::convert_record(ingest::SourceFormat::kAks, e, &events);
    if (!s.is_ok()) {
      *refused = s.message();  // an Azure activity record that is not a kube-audit one, say
      return "";
    }
  }
  return events.size() == 1 ? events[0] : "";
}

std::vector<Fixture> read_fixtures() {
  std::ifstream in(kShared + "/panther-eks-audit-rule-fixtures.jsonl");
  std::vector<Fixture> out;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) {
      continue;
    }
    rapidjson::Document doc;
    EXPECT_TRUE(json::parse(line, &doc).is_ok());
    Fixture f;
    std::string file = doc["_panther_rule_file"].GetString();
    file = file.substr(file.rfind('/') + 1);
    f.rule = file.substr(0, file.size() - 4);
    f.test = doc["_panther_test_name"].GetString();
    f.expected = doc["_expected_match"].GetBool();
    rapidjson::Value& e = doc["event"];
    auto& a = doc.GetAllocator();
    f.shape = e.HasMember("p_log_type") ? e["p_log_type"].GetString() : "unlabelled";
    ++n;
    if (e.HasMember("p_enrichment") && e["p_enrichment"].IsObject()) {
      const auto& en = e["p_enrichment"];
      if (en.HasMember("tor_exit_nodes") && en["tor_exit_nodes"].IsArray()) {
        for (const auto& ip : en["tor_exit_nodes"].GetArray()) {
          f.tor_exit_nodes.emplace_back(ip.GetString());
        }
      }
      // AS16509 Amazon, AS8075 Microsoft, AS15169 and AS396982 Google.
      if (en.HasMember("ipinfo_asn") && en["ipinfo_asn"].IsObject()) {
        for (const auto& field : en["ipinfo_asn"].GetObject()) {
          if (!field.value.IsArray()) {
            continue;
          }
          for (const auto& hit : field.value.GetArray()) {
            const std::string asn = hit.HasMember("asn") ? hit["asn"].GetString() : "";
            if ((asn == "AS16509" || asn == "AS8075" || asn == "AS15169" || asn == "AS396982") &&
                hit.HasMember("p_match")) {
              f.cloud_ips.emplace_back(hit["p_match"].GetString());
            }
          }
        }
      }
    }
    if (f.shape == "GCP.AuditLog" || f.shape == "Azure.MonitorActivity") {
      f.event = convert_managed(f.shape, e, a, n, &f.refused);
    } else {
      fill_like_apiserver(e, a, n);
      f.event = json::to_compact(e);
    }
    out.push_back(std::move(f));
  }
  return out;
}

TEST(DefaultRules, PantherRulesFireExactlyOnTheirMatchingFixtures) {
  // Some Panther rules rely on Panther's enrichment: a Tor exit node list (k8s_ioc_activity, and
  // 1.2.3.4 in the EKS fixtures) and an IP database's cloud provider networks
  // (k8s_system_principal_public_ip). The default rules take such addresses from the lists
  // ioc_source_ips and cloud_node_source_ips, extended here from the fixtures' enrichment as a
  // user's feeds would extend them.
  const auto fixtures = read_fixtures();
  std::string tor = "1.2.3.4", cloud;
  for (const auto& f : fixtures) {
    for (const auto& ip : f.tor_exit_nodes) {
      tor += ", " + ip;
    }
    for (const auto& ip : f.cloud_ips) {
      cloud += (cloud.empty() ? "" : ", ") + ip;
    }
  }
  RuleSet set;
  Diagnostics d;
  load_rules_text(default_rules_text(), kDefaultRulesName, &set, &d);
  load_rules_text("- list: ioc_source_ips\n  items: [" + tor + "]\n  append: true\n" +
                      "- list: cloud_node_source_ips\n  items: [" + cloud + "]\n  append: true\n",
                  "feeds.yaml", &set, &d);
  auto engine = Engine::compile(set, &d);
  ASSERT_NE(engine, nullptr) << testing::all_messages(d);

  // Where ktrail reads an export differently from Panther's own fixture, on purpose.
  const std::map<std::string, std::string> known = {
      {"GCP GKE Anonymous API Access",
       "the fixture names its user only in authenticationInfo.authoritySelector, which Cloud "
       "Audit Logs define as the authority the caller asked for, not who the caller is; ktrail "
       "reads the user from principalEmail (GKE writes system:anonymous there)"},
  };
  int differences = 0;

  std::map<std::string, int> unreadable;
  std::map<std::string, int> checked;
  int refused = 0;
  std::set<std::string> panther_rules;
  for (const auto& f : fixtures) {
    panther_rules.insert(f.rule);
    std::set<std::string> covering;
    for (const auto& r : engine->rules()) {
      for (const auto& t : r.tags) {
        if (t == "panther:" + f.rule) {
          covering.insert(r.name);
        }
      }
    }
    ASSERT_FALSE(covering.empty()) << "no default rule is tagged panther:" << f.rule;
    if (!f.refused.empty()) {
      // What ktrail refuses to read cannot fire: right only where Panther expects no match.
      EXPECT_FALSE(f.expected) << f.rule << ": '" << f.test << "' refused: " << f.refused;
      ++refused;
      continue;
    }
    if (f.event.empty()) {
      ++unreadable[f.shape];
      continue;
    }
    DecodedAudit decoded;
    decode_audit_line(f.event, &decoded);
    if (decoded.events.size() != 1) {
      ++unreadable["rejected: " + decoded.rejected.at(0).reason];
      continue;
    }
    bool fired = false;
    for (const auto& name : testing::matching(*engine, decoded.events[0])) {
      fired = fired || covering.count(name) > 0;
    }
    if (known.count(f.test) > 0) {
      EXPECT_NE(fired, f.expected) << f.test << " now agrees with Panther: drop it from `known`";
      ++differences;
      ++checked[f.rule];
      continue;
    }
    EXPECT_EQ(fired, f.expected) << f.rule << ": '" << f.test << "'\n" << f.event;
    ++checked[f.rule];
  }
  EXPECT_EQ(panther_rules.size(), 33u);
  // Every Panther rule has fixtures ktrail reads and checks.
  for (const auto& r : panther_rules) {
    EXPECT_GT(checked[r], 0) << r;
  }
  // Every fixture is read, the GKE and AKS export shapes included (ingest/managed_formats.h).
  EXPECT_TRUE(unreadable.empty());
  std::map<std::string, int> by_shape;
  for (const auto& f : fixtures) {
    ++by_shape[f.shape];
  }
  for (const auto& [shape, count] : by_shape) {
    std::printf("fixtures of shape %s: %d\n", shape.c_str(), count);
  }
  int total = 0;
  for (const auto& [shape, count] : unreadable) {
    std::printf("fixtures not in audit.k8s.io shape: %s: %d\n", shape.c_str(), count);
    total += count;
  }
  int evaluated = 0;
  for (const auto& [rule, count] : checked) {
    evaluated += count;
  }
  std::printf("fixtures evaluated: %d, not readable: %d, total: %zu\n", evaluated, total,
              fixtures.size());
  std::printf("fixtures refused (not Kubernetes audit records): %d\n", refused);
  EXPECT_EQ(differences, static_cast<int>(known.size()));
  EXPECT_EQ(static_cast<std::size_t>(evaluated + total + refused), fixtures.size());
}

}  // namespace
}  // namespace ktrail::detect
