// The detection engine: Falco k8s_audit rules, compiled once and evaluated per audit event.
//
// Loading reads the rules files in order (detect/rules_file.h), then compiles every enabled
// k8s_audit rule: lists expanded, macros expanded (recursion refused), fields resolved to
// extractors (detect/fields.h), exceptions turned into `and not (...)`, outputs split into
// text and fields. Nothing is parsed again per event. A load with any error compiles nothing;
// warnings (lint) do not stop it.
//
// Evaluation, per event: a rule matches when its condition is true. A field the event does not
// have makes its comparison false, as in Falco. An evaluation error (a numeric comparison on
// text that is not a number) makes the rule not match for that event and is counted; it never
// stops the caller. evaluate() is const and may run on several threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/audit_event.h"
#include "core/finding.h"
#include "detect/diagnostics.h"
#include "detect/fields.h"
#include "detect/rules_file.h"

namespace ktrail::detect {

struct Node;

inline constexpr const char* kDefaultRulesWord = "default";

struct OutputPart {
  std::string text;  // literal text before the field
  bool has_field = false;
  FieldRef field;
};

struct CompiledRule {
  std::string name;
  std::string priority;  // canonical: EMERGENCY .. DEBUG
  int rank = 0;          // 0 EMERGENCY .. 7 DEBUG
  std::vector<std::string> tags;
  std::vector<OutputPart> output;
  std::unique_ptr<Node> condition;
  Location where;
  // Verbs and resources the condition requires (empty: any). Rules whose requirement the
  // event's verb or resource fails are skipped without evaluating their condition.
  std::vector<std::string> verbs;
  std::vector<std::string> resources;
  bool any_verb = true;
  bool any_resource = true;
  CompiledRule();
  ~CompiledRule();
  CompiledRule(CompiledRule&&) noexcept;
  CompiledRule& operator=(CompiledRule&&) noexcept;
};

class Engine {
 public:
  // Compiles `set`. Errors and warnings go to `diags`; nullptr when there are errors.
  static std::unique_ptr<Engine> compile(const RuleSet& set, Diagnostics* diags);
  // Reads and compiles `files` in order; with no files, the built-in default rules
  // (detect/default_rules.h). The name "default" stands for the built-in rules, so that a
  // user's file can extend them ("default", "mine.yaml").
  static std::unique_ptr<Engine> load(const std::vector<std::string>& files, Diagnostics* diags);

  // The rules that match `event`, in rule order.
  void evaluate(const AuditEvent& event, std::vector<const CompiledRule*>* matches) const;
  // The rule's output with its %fields filled in from `event` (<NA> for a missing value,
  // (a,b) for a list).
  std::string format_output(const CompiledRule& rule, const AuditEvent& event) const;
  // A finding for `rule` on `event` (output formatted from `event`).
  Finding make_finding(const CompiledRule& rule, const AuditEvent& event) const;

  const std::vector<CompiledRule>& rules() const { return rules_; }
  // Evaluations that failed (counted per rule and event) since the engine was made.
  std::uint64_t evaluation_errors() const { return errors_.load(std::memory_order_relaxed); }

 private:
  // Which rules an event's verb (or resource) lets through: one row per value some rule
  // requires, and a last row for any other value; a rule with no requirement is open in all.
  struct Gate {
    std::vector<std::string> keys;                // sorted
    std::vector<std::vector<std::uint8_t>> open;  // [key or keys.size()][rule]
    static Gate of(const std::vector<CompiledRule>& rules, bool CompiledRule::*any,
                   std::vector<std::string> CompiledRule::*values);
    const std::uint8_t* row(std::string_view value) const;
  };

  std::vector<CompiledRule> rules_;
  Gate by_verb_;
  Gate by_resource_;
  std::size_t memo_slots_ = 0;  // subtrees shared between rules, evaluated once per event
  mutable std::atomic<std::uint64_t> errors_{0};
};

// The entry point for fuzzing the loader: reads `text` as one rules file and compiles it.
// Never crashes or throws on any input; returns whether it compiled.
bool fuzz_load_rules(const char* data, std::size_t size);

}  // namespace ktrail::detect
