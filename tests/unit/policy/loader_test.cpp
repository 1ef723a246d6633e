// The policy loader against malformed and hostile files: every one is refused (or loaded
// with warnings) with a message naming the file, line and rule, and none crashes.
#include "processors/policy/loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "tests/unit/policy/vectors.h"

namespace ktrail::policy {
namespace {

const char* kHeader = "apiVersion: audit.k8s.io/v1\nkind: Policy\n";

LoadedPolicy parse(const std::string& body) { return parse_policy(kHeader + body, "p.yaml"); }

std::string errors_of(const LoadedPolicy& p) { return p.status().message(); }

TEST(PolicyLoader, LoadsYamlAndJson) {
  auto y = parse("rules:\n- level: Metadata\n  verbs: [get]\n");
  ASSERT_TRUE(y.ok()) << errors_of(y);
  ASSERT_EQ(y.policy.rules.size(), 1u);
  EXPECT_EQ(y.policy.rules[0].verbs, std::vector<std::string>{"get"});
  auto j =
      parse_policy(R"({"apiVersion":"audit.k8s.io/v1","kind":"Policy","omitManagedFields":true,)"
                   R"("rules":[{"level":"None","omitManagedFields":false}]})",
                   "p.json");
  ASSERT_TRUE(j.ok()) << errors_of(j);
  EXPECT_TRUE(j.policy.omit_managed_fields);
  EXPECT_EQ(j.policy.rules[0].omit_managed_fields, std::optional<bool>(false));
}

TEST(PolicyLoader, TypeErrorsAreErrorsWithFileLineAndField) {
  auto p = parse("rules:\n- level: Metadata\n  verbs: 5\n");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(errors_of(p).find("p.yaml:5:10: error: rules[0].verbs: must be a list, got a number"),
            std::string::npos)
      << errors_of(p);
  EXPECT_FALSE(parse("rules:\n- level: Metadata\n  users: [true]\n").ok());
  EXPECT_FALSE(parse("rules:\n- level: Metadata\n  users: [{a: b}]\n").ok());
  EXPECT_FALSE(parse("rules:\n- level: [Metadata]\n").ok());
  EXPECT_FALSE(parse("rules:\n- level: Metadata\n  omitManagedFields: maybe\n").ok());
  EXPECT_FALSE(parse("rules: {level: Metadata}\n").ok());
  EXPECT_FALSE(parse("rules:\n- Metadata\n").ok());
  EXPECT_FALSE(parse("rules:\n- level: Metadata\n  resources: [pods]\n").ok());
  // A quoted number is a string.
  EXPECT_TRUE(parse("rules:\n- level: Metadata\n  users: [\"5\"]\n").ok());
}

TEST(PolicyLoader, UnknownAndDuplicateFieldsAreWarnings) {
  auto p = parse("rules:\n- level: Metadata\n  verb: [get]\n  level: Request\nextra: 1\n");
  ASSERT_TRUE(p.ok()) << errors_of(p);
  ASSERT_EQ(p.diagnostics.size(), 3u);
  for (const auto& d : p.diagnostics) {
    EXPECT_EQ(d.severity, Severity::kWarning);
  }
  EXPECT_EQ(p.diagnostics[0].field, "rules[0].verb");
  EXPECT_EQ(p.diagnostics[0].pos.line, 5);
  EXPECT_EQ(p.diagnostics[1].field, "rules[0].level");
  EXPECT_EQ(p.diagnostics[2].field, "extra");
  // The last duplicate wins, and the misspelt `verb` is ignored: the rule matches every verb.
  EXPECT_EQ(p.policy.rules[0].level, "Request");
  EXPECT_TRUE(p.policy.rules[0].verbs.empty());
}

TEST(PolicyLoader, UnknownLevelsAndStagesAreErrorsNamingTheRule) {
  auto p = parse("rules:\n- level: Metadata\n- level: Everything\n  omitStages: [Done]\n");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error_count(), 2u);
  const std::string e = errors_of(p);
  EXPECT_NE(e.find("p.yaml:5:10: error: rules[1].level: Unsupported value: \"Everything\""),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("rules[1].omitStages[0]: Unsupported value: \"Done\""), std::string::npos) << e;
}

TEST(PolicyLoader, EveryValidationErrorIsReported) {
  auto p = parse(
      "rules:\n"
      "- level: Metadata\n"
      "  namespaces: [default]\n"
      "  nonResourceURLs: [logs, /a*b]\n"
      "- {}\n"
      "- level: None\n"
      "  resources: [{group: Apps, resourceNames: [x]}]\n");
  ASSERT_FALSE(p.ok());
  const std::string e = errors_of(p);
  EXPECT_EQ(p.error_count(), 6u) << e;
  for (const char* want :
       {"rules cannot apply to both", "must begin with a '/'", "must be the final character",
        "rules[1].level: Required value", "rules[2].resources[0].group: Invalid value",
        "using resourceNames requires at least one resource"}) {
    EXPECT_NE(e.find(want), std::string::npos) << want << " in " << e;
  }
}

TEST(PolicyLoader, RefusesWrongVersionsKindsAndEmptyPolicies) {
  EXPECT_NE(errors_of(parse_policy("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- "
                                   "level: None\n",
                                   "p"))
                .find("unknown group version field \"audit.k8s.io/v1beta1\""),
            std::string::npos);
  EXPECT_FALSE(
      parse_policy("apiVersion: audit.k8s.io/v1\nkind: Pod\nrules:\n- level: None\n", "p").ok());
  EXPECT_NE(errors_of(parse("rules: []\n")).find("loaded illegal policy with 0 rules"),
            std::string::npos);
  EXPECT_FALSE(parse_policy("", "p").ok());
  EXPECT_FALSE(parse_policy("# only a comment\n", "p").ok());
}

TEST(PolicyLoader, RefusesMalformedYaml) {
  for (const std::string& text :
       {std::string("rules: [\n"), std::string("rules:\n- level: \"None\n"),
        std::string("a: b\n c: d\n  - e\n"), std::string("\t- level: None\n"),
        std::string("--- [1, 2\n"), std::string("rules: *undefined\n"),
        std::string("just a string"), std::string("- a\n- b\n"), std::string("42"),
        std::string("\xff\xfe\x00\x01garbage", 8), std::string("{a: 1, a: 2, b: [}")}) {
    auto p = parse_policy(text, "bad.yaml");
    EXPECT_FALSE(p.ok()) << text;
    EXPECT_NE(errors_of(p).find("bad.yaml"), std::string::npos) << errors_of(p);
  }
  auto p = parse_policy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [\n", "bad.yaml");
  EXPECT_NE(errors_of(p).find("invalid YAML"), std::string::npos) << errors_of(p);
}

TEST(PolicyLoader, DeepNestingIsRefusedWithoutCrashing) {
  for (char open : {'[', '{'}) {
    std::string text = std::string(kHeader) + "rules: " + std::string(100000, open);
    auto p = parse_policy(text, "deep.yaml");
    EXPECT_FALSE(p.ok());
    EXPECT_NE(errors_of(p).find("deep.yaml"), std::string::npos);
  }
  // Block sequences nested on one line: "- - - - ...".
  std::string block = std::string(kHeader) + "rules:\n";
  for (int i = 0; i < 50000; ++i) {
    block += "- ";
  }
  block += "level: None\n";
  EXPECT_FALSE(parse_policy(block, "deep.yaml").ok());
}

TEST(PolicyLoader, HugeInputsAreRefused) {
  std::string big = std::string(kHeader) + "rules:\n- level: None\n  users:\n";
  while (big.size() <= kMaxPolicyBytes) {
    big += "  - someone-with-a-long-name\n";
  }
  auto p = parse_policy(big, "big.yaml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(errors_of(p).find("more than the limit"), std::string::npos) << errors_of(p);

  // A small file whose aliases multiply into a huge policy.
  std::string bomb = std::string(kHeader) + "x: &a [u";
  for (int i = 1; i < 1000; ++i) {
    bomb += ",u";
  }
  bomb += "]\nrules:\n";
  for (int i = 0; i < 1100; ++i) {
    bomb += "- {level: None, users: *a}\n";
  }
  auto b = parse_policy(bomb, "bomb.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(errors_of(b).find("list entries"), std::string::npos) << errors_of(b);
}

TEST(PolicyLoader, FileErrors) {
  auto missing = load_policy_file("/nonexistent/policy.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(errors_of(missing).find("/nonexistent/policy.yaml"), std::string::npos);

  const auto dir =
      std::filesystem::temp_directory_path() / ("ktrail-policy-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto big = dir / "big.yaml";
  {
    std::FILE* f = std::fopen(big.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string chunk(1 << 16, '#');
    for (std::size_t n = 0; n <= kMaxPolicyBytes; n += chunk.size()) {
      std::fwrite(chunk.data(), 1, chunk.size(), f);
    }
    std::fclose(f);
  }
  auto p = load_policy_file(big.string());
  EXPECT_FALSE(p.ok());
  EXPECT_NE(errors_of(p).find("larger than the limit"), std::string::npos) << errors_of(p);
  // A directory is not a policy file.
  EXPECT_FALSE(load_policy_file(dir.string()).ok());
  std::filesystem::remove_all(dir);
}

TEST(PolicyLoader, ExamplePoliciesLoadCleanly) {
  for (const char* name : {"gce-audit-policy.yaml", "kubernetes-io-example.yaml"}) {
    auto p = load_policy_file(std::string(KTRAIL_SOURCE_DIR) + "/examples/policies/" + name);
    EXPECT_TRUE(p.ok()) << name << ": " << errors_of(p);
    EXPECT_TRUE(p.diagnostics.empty()) << name;
  }
}

}  // namespace
}  // namespace ktrail::policy
