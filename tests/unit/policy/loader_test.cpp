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

// What kube-apiserver v0.37.2's loader does, and so ktrail's (each case was a difference
// found by tests/policy-oracle, the differential test against k8s.io/apiserver).
TEST(PolicyLoader, AFileStartingWithABraceIsStrictJson) {
  const std::string head = R"({"apiVersion":"audit.k8s.io/v1","kind":"Policy",)";
  EXPECT_TRUE(parse_policy(head + R"("rules":[{"level":"None"}]})", "p").ok());
  EXPECT_TRUE(parse_policy(" \n\t" + head + R"("rules":[{"level":"None"}]} )" "\n", "p").ok());
  for (const char* bad : {R"("rules":[{"level":"None"},]})", R"("rules":[{"level":"None"}],})",
                          R"(// c
"rules":[{"level":"None"}]})",
                          R"("rules":[{'level':"None"}]})", R"("rules":[{"level":"None"}]}{})",
                          R"("rules":[{"level":"None"}]} x)", R"("rules":[{"level":NaN}]})"}) {
    EXPECT_FALSE(parse_policy(head + bad, "p").ok()) << bad;
  }
  // A lone surrogate escape is U+FFFD, as Go's decoder reads it.
  auto s = parse_policy(head + R"("rules":[{"level":"None","users":["a\ud800","\udc00b"]}]})", "p");
  ASSERT_TRUE(s.ok()) << errors_of(s);
  EXPECT_EQ(s.policy.rules[0].users,
            (std::vector<std::string>{"a\xEF\xBF\xBD", "\xEF\xBF\xBD" "b"}));
  // Every occurrence of a duplicate key is decoded into the same field: a type error in any
  // refuses the file, and a later list of rules merges into the earlier one's elements.
  EXPECT_FALSE(parse_policy(head + R"("rules":[{"level":5,"level":"None"}]})", "p").ok());
  auto merged = parse_policy(
      head + R"("rules":[{"level":"None"}],"rules":[{"verbs":["get"]},{"level":"Metadata"}]})", "p");
  ASSERT_TRUE(merged.ok()) << errors_of(merged);
  ASSERT_EQ(merged.policy.rules.size(), 2u);
  EXPECT_EQ(merged.policy.rules[0].level, "None");
  EXPECT_EQ(merged.policy.rules[0].verbs, std::vector<std::string>{"get"});
}

TEST(PolicyLoader, YamlMergeKeysAreApplied) {
  auto p = parse(
      "x-base: &base {level: Metadata, verbs: [get], users: [alice]}\n"
      "x-more: &more {level: None, namespaces: [kube-system]}\n"
      "rules:\n"
      "- <<: *base\n  users: [bob]\n"           // later keys win over the merge
      "- users: [carol]\n  <<: *base\n"         // the merge wins over earlier keys
      "- <<: [*more, *base]\n");                // earlier maps in the list win
  ASSERT_TRUE(p.ok()) << errors_of(p);
  ASSERT_EQ(p.policy.rules.size(), 3u);
  EXPECT_EQ(p.policy.rules[0].level, "Metadata");
  EXPECT_EQ(p.policy.rules[0].verbs, std::vector<std::string>{"get"});
  EXPECT_EQ(p.policy.rules[0].users, std::vector<std::string>{"bob"});
  EXPECT_EQ(p.policy.rules[1].users, std::vector<std::string>{"alice"});
  EXPECT_EQ(p.policy.rules[2].level, "None");
  EXPECT_EQ(p.policy.rules[2].namespaces, std::vector<std::string>{"kube-system"});
  EXPECT_EQ(p.policy.rules[2].verbs, std::vector<std::string>{"get"});
  for (const auto& d : p.diagnostics) {
    EXPECT_EQ(d.field.find("<<"), std::string::npos) << d.to_string();
  }
  EXPECT_FALSE(parse("rules:\n- <<: 5\n  level: None\n").ok());
  EXPECT_FALSE(parse("rules:\n- <<: [{level: None}, x]\n").ok());
}

// An anchor whose map merges itself (found by fuzz_policy_loader: it recursed until the stack
// ran out) is an error, as it is for kube-apiserver's loader.
TEST(PolicyLoader, AnAnchorThatMergesItselfIsAnError) {
  const auto p = parse("x-base: &b\n  level: Metadata\n  <<: *b\nrules:\n- <<: *b\n");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(errors_of(p).find("merge"), std::string::npos) << errors_of(p);
  auto deep = parse("x-a: &a {level: None}\nrules:\n- <<: {<<: {<<: {<<: *a}}}\n  verbs: [get]\n");
  ASSERT_TRUE(deep.ok()) << errors_of(deep);
  EXPECT_EQ(deep.policy.rules[0].level, "None");
}

TEST(PolicyLoader, Yaml11ScalarsResolveAsInGoYaml) {
  // A number or a boolean where a string belongs refuses the file; what stays a string loads.
  for (const char* number : {"0b101", "-0x1F", "0x1F", "0o17", "0777", "1_000", "1e3", "+12",
                             "-0", ".5", "0999", "!!int \"5\"", "!!float 1"}) {
    EXPECT_FALSE(parse(std::string("rules:\n- level: None\n  users: [") + number + "]\n").ok())
        << number;
  }
  for (const char* text : {"0x", "0o8", "0b2", "1e", "_1", "0x1g", "1:20", "2001-12-14", "!!str 5",
                           "!!str yes", "!foo bar", ".", "-", "1e999"}) {
    auto p = parse(std::string("rules:\n- level: None\n  users: [") + text + "]\n");
    EXPECT_TRUE(p.ok()) << text << ": " << errors_of(p);
  }
  // NaN and infinity cannot be written as JSON: the file is refused wherever they stand,
  // unless a duplicate key replaced them.
  for (const char* nan : {".NAN", ".nan", "-.Inf", "+.inf", "!!float .nan"}) {
    EXPECT_FALSE(parse(std::string("rules:\n- level: None\nx-unknown: ") + nan + "\n").ok())
        << nan;
  }
  EXPECT_TRUE(parse("x: .nan\nx: 1\nrules:\n- level: None\n").ok());
  // Tags: !!bool true is a boolean, !!bool 1 an error.
  EXPECT_TRUE(parse("rules:\n- level: None\n  omitManagedFields: !!bool true\n").ok());
  EXPECT_TRUE(parse("rules:\n- level: None\n  omitManagedFields: yes\n").ok());
  EXPECT_FALSE(parse("rules:\n- level: None\n  omitManagedFields: !!bool 1\n").ok());
  EXPECT_FALSE(parse("rules:\n- level: None\n  omitManagedFields: \"true\"\n").ok());
  auto b = parse("rules:\n- level: !!binary Tm9uZQ==\n");
  ASSERT_TRUE(b.ok()) << errors_of(b);
  EXPECT_EQ(b.policy.rules[0].level, "None");
  // go-yaml v2 reads YAML 1.1 escapes only, and refuses surrogate escapes.
  EXPECT_FALSE(parse("rules:\n- level: None\n  users: [\"\\/\"]\n").ok());
  EXPECT_FALSE(parse("rules:\n- level: None\n  users: [\"\\ud800\"]\n").ok());
  EXPECT_FALSE(parse("rules:\n- level: None\n  users: [, a]\n").ok());
}

TEST(PolicyLoader, KindMayBeMissingOrEmpty) {
  EXPECT_TRUE(parse_policy("apiVersion: audit.k8s.io/v1\nrules:\n- level: None\n", "p").ok());
  EXPECT_TRUE(parse_policy("apiVersion: audit.k8s.io/v1\nkind: \"\"\nrules:\n- level: None\n", "p").ok());
  EXPECT_TRUE(parse_policy("apiVersion: audit.k8s.io/v1\nkind:\nrules:\n- level: None\n", "p").ok());
  EXPECT_FALSE(parse_policy("kind: Policy\nrules:\n- level: None\n", "p").ok());
  // apiVersion and kind are found case-insensitively, as encoding/json does.
  EXPECT_FALSE(parse_policy("apiVersion: audit.k8s.io/v1\nKind: Pod\nrules:\n- level: None\n", "p").ok());
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
  EXPECT_NE(errors_of(b).find("after expanding aliases"), std::string::npos) << errors_of(b);
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
