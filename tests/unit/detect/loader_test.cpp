// Rules files that Falco refuses are refused with file:line:column and a clear message, and a
// refused file changes nothing; what Falco accepts leniently loads, with lint warnings.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/detect/detect_test_util.h"

namespace ktrail::detect {
namespace {

using testing::all_messages;
using testing::engine_of;
using testing::event_of;
using testing::matching;

std::string rule(const std::string& name, const std::string& condition,
                 const std::string& more = "") {
  return "- rule: " + name + "\n  desc: d\n  condition: " + condition +
         "\n  output: o %ka.user.name\n  priority: WARNING\n  source: k8s_audit\n" + more;
}

// The first error, "" when it loaded.
std::string first_error(const std::string& yaml) {
  Diagnostics d;
  auto e = engine_of(yaml, &d, "bad.yaml");
  for (const auto& i : d.items) {
    if (i.error) {
      EXPECT_EQ(e, nullptr);
      return i.to_string();
    }
  }
  EXPECT_NE(e, nullptr);
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(DetectLoader, MalformedYamlNamesLineAndColumn) {
  const std::string err = first_error("- rule: a\n  desc: [unclosed\n  condition: x\n");
  EXPECT_TRUE(has(err, "bad.yaml:")) << err;
  EXPECT_TRUE(has(err, "invalid YAML")) << err;
  EXPECT_TRUE(has(first_error("rule: a\n"), "bad.yaml:1:1: error: a rules file is a YAML sequence"));
}

TEST(DetectLoader, UnknownKeysAndItemsAreRefused) {
  EXPECT_TRUE(has(first_error(rule("a", "ka.verb=get", "  severity: high\n")),
                  "bad.yaml:7:3: error: unknown key 'severity' in rule 'a'"));
  EXPECT_TRUE(has(first_error("- policy: x\n"), "bad.yaml:1:3: error: unknown item"));
  EXPECT_TRUE(has(first_error("- rule: a\n  desc: d\n  condition: ka.verb=get\n  output: o\n"
                              "  priority: LOUD\n  source: k8s_audit\n"),
                  "unknown priority 'LOUD'"));
  EXPECT_TRUE(has(first_error("- rule: a\n  desc: d\n  output: o\n  priority: INFO\n"),
                  "rule 'a' has no 'condition'"));
}

TEST(DetectLoader, UnknownFieldsAndOperatorsNameWhereAndWhat) {
  const std::string err = first_error(rule("a", "ka.verb=get and ka.bogus.field=1"));
  EXPECT_TRUE(has(err, "bad.yaml:3:14: error: rule 'a': unknown field 'ka.bogus.field' at "
                       "character 17"))
      << err;
  EXPECT_TRUE(has(first_error(rule("a", "ka.verb regex 'g.t'")),
                  "operator 'regex' is not supported")) ;
  EXPECT_TRUE(has(first_error(rule("a", "proc.name=bash")), "unknown field 'proc.name'"));
  EXPECT_TRUE(has(first_error(rule("a", "jevt.value[stage]=x")), "starts with '/'"));
  EXPECT_TRUE(has(first_error(rule("a", "ka.uri.param exists")), "requires an argument"));
  EXPECT_TRUE(has(first_error("- rule: a\n  desc: d\n  condition: ka.verb=get\n"
                              "  output: o %ka.nothing\n  priority: INFO\n  source: k8s_audit\n"),
                  "bad.yaml:4:11: error: rule 'a': output: unknown field 'ka.nothing'"));
  // skip-if-unknown-filter turns the error into a skipped rule.
  Diagnostics d;
  auto e = engine_of(rule("a", "ka.bogus=1", "  skip-if-unknown-filter: true\n") +
                         rule("b", "ka.verb=create"),
                     &d);
  ASSERT_NE(e, nullptr) << all_messages(d);
  EXPECT_EQ(e->rules().size(), 1u);
}

TEST(DetectLoader, UndefinedMacrosRecursionAndParentheses) {
  EXPECT_TRUE(has(first_error(rule("a", "kevt and ka.verb=get")), "undefined macro 'kevt'"));
  const std::string cycle = "- macro: m1\n  condition: m2 and ka.verb=get\n"
                            "- macro: m2\n  condition: (m1)\n" +
                            rule("a", "m1");
  EXPECT_TRUE(has(first_error(cycle), "refers to itself: m1 -> m2 -> m1")) << first_error(cycle);
  EXPECT_TRUE(has(first_error(rule("a", "(ka.verb=get")), "unbalanced parentheses"));
  EXPECT_TRUE(has(first_error(rule("a", "ka.verb=get)")), "unbalanced parentheses"));
  EXPECT_TRUE(has(first_error(rule("a", "ka.verb in (get, list")), "not closed"));
  EXPECT_TRUE(has(first_error(rule("a", "ka.verb=get and")), "unexpected end of condition"));
  EXPECT_TRUE(has(first_error(rule("a", "ka.verb")), "expected an operator"));
  EXPECT_TRUE(has(first_error("- list: l\n  items: [a]\n" + rule("a", "l")),
                  "it is a list"));
  EXPECT_TRUE(has(first_error("- macro: m\n  condition: ka.verb=\n" + rule("a", "m")),
                  "bad.yaml:2:14: error: macro 'm': expected a value"));
}

TEST(DetectLoader, DeepNestingIsRefusedWithoutCrashing) {
  const std::string deep = std::string(100000, '(') + "ka.verb=get" + std::string(100000, ')');
  EXPECT_TRUE(has(first_error(rule("a", deep)), "nesting deeper than"));
  std::string nots;
  for (int i = 0; i < 100000; ++i) {
    nots += "not ";
  }
  EXPECT_TRUE(has(first_error(rule("a", nots + "ka.verb=get")), "nesting deeper than"));
  // Deep YAML nesting is refused by the YAML reader's own limit.
  const std::string yaml = "- rule: a\n  desc: " + std::string(100000, '[') + "\n";
  EXPECT_TRUE(has(first_error(yaml), "bad.yaml:")) << first_error(yaml).substr(0, 200);
  // Macros that nest each other deeper than the limit.
  std::string chain;
  for (int i = 0; i < 600; ++i) {
    chain += "- macro: m" + std::to_string(i) + "\n  condition: " +
             (i == 0 ? std::string("ka.verb=get") : "m" + std::to_string(i - 1)) + "\n";
  }
  EXPECT_TRUE(has(first_error(chain + rule("a", "m599")), "deeper than"));
}

TEST(DetectLoader, HugeFileIsRefused) {
  const std::string huge = "# " + std::string(kMaxRulesFileBytes, 'x') + "\n";
  EXPECT_TRUE(has(first_error(huge), "more than the limit"));
}

TEST(DetectLoader, AFileWithErrorsChangesNothing) {
  RuleSet set;
  Diagnostics d;
  load_rules_text(rule("a", "ka.verb=create"), "one.yaml", &set, &d);
  ASSERT_FALSE(d.has_errors());
  load_rules_text("- list: extra\n  items: [x]\n" + rule("a", "ka.verb=get", "  bogus: 1\n"),
                  "two.yaml", &set, &d);
  EXPECT_TRUE(d.has_errors());
  ASSERT_EQ(set.rules.size(), 1u);
  EXPECT_EQ(set.rules[0].condition, "ka.verb=create");
  EXPECT_TRUE(set.lists.empty());
}

TEST(DetectLoader, LenientWhereFalcoIsLenient) {
  Diagnostics d;
  auto e = engine_of("-\n" + rule("a", "ka.verb in (create, not_a_list_name)"), &d);
  ASSERT_NE(e, nullptr) << all_messages(d);
  const std::string text = all_messages(d);
  EXPECT_TRUE(has(text, "test.yaml:1:1: warning: empty entry '-' skipped")) << text;
  EXPECT_TRUE(has(text, "'not_a_list_name' at character 21 is not a defined list")) << text;
  // Rules of other sources are skipped with a warning, not refused.
  Diagnostics d2;
  auto e2 = engine_of("- rule: s\n  desc: d\n  condition: proc.name=bash\n  output: o\n"
                      "  priority: INFO\n" + rule("b", "ka.verb=create"), &d2);
  ASSERT_NE(e2, nullptr) << all_messages(d2);
  EXPECT_EQ(e2->rules().size(), 1u);
  EXPECT_TRUE(has(all_messages(d2), "source 'syscall'"));
}

TEST(DetectLoader, AppendOverrideAndEnabled) {
  const std::string base = "- list: users\n  items: [alice]\n"
                           "- macro: m\n  condition: ka.verb=create\n" +
                           rule("r", "m and ka.user.name in (users)") +
                           rule("off", "ka.verb=create");
  const std::string more =
      "- list: users\n  items: [carol]\n  append: true\n"
      "- rule: r\n  condition: and ka.target.namespace=prod\n  append: true\n"
      "- rule: off\n  enabled: false\n"
      "- rule: r\n  priority: ERROR\n  output: new %ka.verb\n  override:\n    priority: replace\n"
      "    output: replace\n";
  RuleSet set;
  Diagnostics d;
  load_rules_text(base, "a.yaml", &set, &d);
  load_rules_text(more, "b.yaml", &set, &d);
  ASSERT_FALSE(d.has_errors()) << all_messages(d);
  auto e = Engine::compile(set, &d);
  ASSERT_NE(e, nullptr) << all_messages(d);
  ASSERT_EQ(e->rules().size(), 1u);
  EXPECT_EQ(e->rules()[0].priority, "ERROR");
  EXPECT_EQ(set.rules[0].condition, "m and ka.user.name in (users) and ka.target.namespace=prod");
  EXPECT_EQ(set.lists[0].items, (std::vector<std::string>{"alice", "carol"}));
  EXPECT_TRUE(has(first_error("- rule: nothing\n  condition: x\n  append: true\n"),
                  "was not defined before"));
  EXPECT_TRUE(has(first_error("- required_engine_version: 0.99.0\n"), "engine version"));
  EXPECT_TRUE(has(first_error("- required_plugin_versions:\n  - name: cloudtrail\n"
                              "    version: 0.1.0\n"),
                  "plugin 'cloudtrail'"));
}

TEST(DetectLoader, FuzzEntryPointSurvivesGarbage) {
  const std::string inputs[] = {"", "-", "- rule:", "[[[[", "- macro: m\n  condition: (((",
                                std::string("\0\xff\xfe", 3), "- list: l\n  items: {a: b}\n"};
  for (const auto& in : inputs) {
    (void)fuzz_load_rules(in.data(), in.size());
  }
  const std::string good = rule("a", "ka.verb=get");
  EXPECT_TRUE(fuzz_load_rules(good.data(), good.size()));
}

}  // namespace
}  // namespace ktrail::detect
