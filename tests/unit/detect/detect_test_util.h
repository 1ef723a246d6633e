// Helpers of the detection tests: events from JSON text, engines from rules text.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/audit_json.h"
#include "detect/engine.h"

namespace ktrail::detect::testing {

// One audit event decoded from a JSON line (the test fails when it is not one).
inline AuditEvent event_of(const std::string& json) {
  DecodedAudit out;
  decode_audit_line(json, &out);
  EXPECT_EQ(out.events.size(), 1u) << json
                                   << (out.rejected.empty() ? "" : out.rejected[0].reason);
  return out.events.empty() ? AuditEvent{} : out.events[0];
}

// Compiles rules text (one file); nullptr and the diagnostics when it does not load.
inline std::unique_ptr<Engine> engine_of(const std::string& yaml, Diagnostics* diags,
                                         const std::string& name = "test.yaml") {
  RuleSet set;
  load_rules_text(yaml, name, &set, diags);
  if (diags->has_errors()) {
    return nullptr;
  }
  return Engine::compile(set, diags);
}

inline std::vector<std::string> matching(const Engine& engine, const AuditEvent& event) {
  std::vector<const CompiledRule*> matches;
  engine.evaluate(event, &matches);
  std::vector<std::string> names;
  for (const auto* r : matches) {
    names.push_back(r->name);
  }
  return names;
}

inline std::string all_messages(const Diagnostics& d) {
  std::string s;
  for (const auto& i : d.items) {
    s += i.to_string() + "\n";
  }
  return s;
}

}  // namespace ktrail::detect::testing
