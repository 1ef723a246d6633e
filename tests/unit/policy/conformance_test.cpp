// Every case of tests/data/policy-vectors.json (transcribed from kube-apiserver's own tests)
// run against ktrail's policy engine.
#include <gtest/gtest.h>

#include "processors/policy/request_info.h"
#include "tests/unit/policy/vectors.h"

namespace ktrail::policy {
namespace {

using namespace ktrail::policy::testing;

const rapidjson::Value& section(const char* name) {
  static const rapidjson::Value kEmpty(rapidjson::kArrayType);
  auto it = vectors().FindMember(name);
  return it == vectors().MemberEnd() ? kEmpty : it->value;
}

TEST(PolicyVectors, FileIsPresentWithEverySection) {
  for (const char* name : {"checker_cases", "union_stages_cases", "omit_managed_fields_cases",
                           "validation_cases", "reader_cases", "request_info_cases"}) {
    ASSERT_TRUE(section(name).IsArray()) << name;
    EXPECT_GT(section(name).Size(), 0u) << name;
  }
  EXPECT_EQ(section("request_info_cases").Size(), 57u);
}

// The copy in tests/data must not drift from the shared conformance set it came from.
TEST(PolicyVectors, CopyMatchesTheSharedSet) {
  const std::string shared =
      read_file(std::string(KTRAIL_SHARED_DIR) + "/conformance/policy-vectors.json");
  if (shared.empty()) {
    GTEST_SKIP() << "shared conformance set not present beside the repository";
  }
  EXPECT_EQ(read_file(data_path("policy-vectors.json")), shared);
}

TEST(PolicyVectors, CheckerCases) {
  const auto& requests = vectors()["requests"];
  const auto& rules = vectors()["rules"];
  std::size_t n = 0;
  for (const auto& c : section("checker_cases").GetArray()) {
    const std::string id = c["id"].GetString();
    rapidjson::Document body(rapidjson::kObjectType);
    auto& alloc = body.GetAllocator();
    body.AddMember("omitStages", rapidjson::Value(c["policyOmitStages"], alloc), alloc);
    rapidjson::Value list(rapidjson::kArrayType);
    for (const auto& name : c["rules"].GetArray()) {
      ASSERT_TRUE(rules.HasMember(name)) << id;
      list.PushBack(rapidjson::Value(rules[name], alloc), alloc);
    }
    body.AddMember("rules", list, alloc);
    LoadedPolicy loaded = policy_from_json(body);
    ASSERT_TRUE(loaded.ok()) << id << ": " << loaded.status().to_string();
    auto compiled = compile_or_null(loaded.policy);
    ASSERT_NE(compiled, nullptr) << id;
    const OwnedRequest req = request_from_json(requests[c["request"]]);
    const Decision d = compiled->evaluate(req.attrs());
    EXPECT_STREQ(to_string(d.level), c["expect"]["level"].GetString()) << id;
    EXPECT_EQ(stage_names(d.omit_stages), stage_names(stages_from_json(c["expect"]["omitStages"])))
        << id;
    ++n;
  }
  EXPECT_EQ(n, 104u);
}

TEST(PolicyVectors, UnionStages) {
  for (const auto& c : section("union_stages_cases").GetArray()) {
    const StageSet got = union_stages(stages_from_json(c["a"]), stages_from_json(c["b"]));
    EXPECT_EQ(stage_names(got), stage_names(stages_from_json(c["expect"]))) << json::to_compact(c);
  }
}

TEST(PolicyVectors, OmitManagedFields) {
  for (const auto& c : section("omit_managed_fields_cases").GetArray()) {
    const std::string name = c["name"].GetString();
    rapidjson::Document body(rapidjson::kObjectType);
    auto& alloc = body.GetAllocator();
    body.AddMember("omitManagedFields", c["policyOmitManagedFields"].GetBool(), alloc);
    rapidjson::Value rule(c["rule"], alloc);
    if (c["ruleOmitManagedFields"].IsBool()) {
      rule.AddMember("omitManagedFields", c["ruleOmitManagedFields"].GetBool(), alloc);
    }
    rapidjson::Value list(rapidjson::kArrayType);
    list.PushBack(rule, alloc);
    body.AddMember("rules", list, alloc);
    LoadedPolicy loaded = policy_from_json(body);
    ASSERT_TRUE(loaded.ok()) << name << ": " << loaded.status().to_string();
    auto compiled = compile_or_null(loaded.policy);
    ASSERT_NE(compiled, nullptr);
    const OwnedRequest req = request_from_json(c["request"]);
    const Decision d = compiled->evaluate(req.attrs());
    ASSERT_TRUE(d.rule.has_value()) << name;
    EXPECT_EQ(d.omit_managed_fields, c["expect"].GetBool()) << name;
  }
}

TEST(PolicyVectors, Validation) {
  for (const auto& c : section("validation_cases").GetArray()) {
    const std::string text = json::to_compact(c["policy"]);
    LoadedPolicy loaded = policy_from_json(c["policy"]);
    EXPECT_EQ(loaded.ok(), c["valid"].GetBool()) << text << " -> " << loaded.status().to_string();
  }
}

TEST(PolicyVectors, Reader) {
  for (const auto& c : section("reader_cases").GetArray()) {
    const std::string name = c["name"].GetString();
    LoadedPolicy loaded = parse_policy(c["yaml"].GetString(), name);
    const bool want_ok = std::string(c["expect"].GetString()) == "ok";
    EXPECT_EQ(loaded.ok(), want_ok) << name << ": " << loaded.status().to_string();
    if (c.HasMember("errorContains")) {
      EXPECT_NE(loaded.status().message().find(c["errorContains"].GetString()), std::string::npos)
          << name << ": " << loaded.status().message();
    }
    if (c.HasMember("expectRuleCount")) {
      EXPECT_EQ(loaded.policy.rules.size(), c["expectRuleCount"].GetUint()) << name;
    }
  }
}

TEST(PolicyVectors, RequestInfo) {
  std::size_t n = 0;
  for (const auto& c : section("request_info_cases").GetArray()) {
    const std::string method = c["method"].GetString();
    const std::string url = c["url"].GetString();
    const RequestInfo info = derive_request_info(method, url);
    const std::string at = method + " " + url;
    EXPECT_EQ(info.is_resource_request, c["isResourceRequest"].GetBool()) << at;
    auto check = [&](const char* key, const std::string& got) {
      if (c.HasMember(key)) {
        EXPECT_EQ(got, c[key].GetString()) << at << " field " << key;
      }
    };
    check("verb", info.verb);
    check("apiGroup", info.api_group);
    check("apiVersion", info.api_version);
    check("namespace", info.namespace_);
    check("resource", info.resource);
    check("subresource", info.subresource);
    check("name", info.name);
    if (!info.is_resource_request) {
      // Non-resource: the lower-cased method and the URL path.
      EXPECT_EQ(info.verb, "get") << at;
      EXPECT_EQ(info.path, url.substr(0, url.find('?'))) << at;
    }
    ++n;
  }
  EXPECT_EQ(n, 57u);
}

// The upstream reader case whose mis-indented `verbs` is silently dropped: the rule then
// matches every verb on leases, and ktrail says so with a warning.
TEST(PolicyVectors, MisplacedFieldWidensTheRuleAndWarns) {
  for (const auto& c : section("reader_cases").GetArray()) {
    if (std::string(c["name"].GetString()) != "TestParsePolicyWithUnknownField") {
      continue;
    }
    LoadedPolicy loaded = parse_policy(c["yaml"].GetString(), "leases.yaml");
    ASSERT_TRUE(loaded.ok());
    ASSERT_EQ(loaded.diagnostics.size(), 1u);
    EXPECT_EQ(loaded.diagnostics[0].severity, Severity::kWarning);
    EXPECT_EQ(loaded.diagnostics[0].field, "rules[0].resources[0].verbs");
    EXPECT_EQ(loaded.diagnostics[0].pos.line, 9);
    auto compiled = compile_or_null(loaded.policy);
    ASSERT_NE(compiled, nullptr);
    OwnedRequest r;
    r.has_user = true;
    r.user = "someone";
    r.verb = "delete";
    r.is_resource = true;
    r.group = "coordination.k8s.io";
    r.resource = "leases";
    r.ns = "kube-system";
    r.name = "x";
    const Decision d = compiled->evaluate(r.attrs());
    EXPECT_EQ(d.level, Level::kNone);
    EXPECT_EQ(d.rule, std::optional<std::size_t>(0));
    return;
  }
  FAIL() << "reader case not found";
}

}  // namespace
}  // namespace ktrail::policy
