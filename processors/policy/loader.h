// Loading an audit policy file (audit.k8s.io/v1 Policy, YAML or JSON) the way kube-apiserver
// v0.37.2 loads `--audit-policy-file`, with errors and warnings that point at the file, line
// and rule. `ktrail policy lint` accepts exactly the files kube-apiserver starts with, and reads
// them the same way (tests/policy-oracle checks both against k8s.io/apiserver's own loader).
//
// Steps, in kube-apiserver's order:
//  1. read the text as JSON values (policy/document.h): strict JSON when it starts with '{',
//     else YAML 1.1 as go-yaml v2 reads it (scalars, tags, merge keys, duplicate keys).
//  2. apiVersion and kind, found case-insensitively: apiVersion must say audit.k8s.io/v1; a
//     missing or empty kind means Policy ("unknown group version field ...").
//  3. decode as Go's JSON decoder fills the typed struct. Type errors (`verbs: 5`, a map where
//     a list belongs) are errors. Unknown and duplicate fields are warnings: kube-apiserver
//     decodes leniently and drops them, which silently widens a rule, so lint shows them.
//  4. validation (policy/validation.h): every problem is reported, not only the first.
//  5. a policy with no rules is refused ("loaded illegal policy with 0 rules").
//
// Hostile input is refused with an error, never a crash: files over kMaxPolicyBytes, nesting
// deeper than the readers' guard, or more than kMaxPolicyStrings values or list entries
// (aliases can multiply a small file).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "processors/policy/policy.h"

namespace ktrail::policy {

constexpr std::size_t kMaxPolicyBytes = 4u << 20;
constexpr std::size_t kMaxPolicyStrings = 1u << 20;

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;
  SourcePos pos;
  std::string field;  // where in the policy: "rules[2].verbs", "omitStages[0]", "" for the file
  std::string message;

  // "file:line:col: error: rules[2].verbs: message" (position and field when known).
  std::string to_string() const;
};

struct LoadOptions {
  // Steps 2 and 4 above; off only to run the decoder and validation alone (as the upstream
  // validation vectors do, which carry no apiVersion).
  bool require_type_meta = true;
  bool require_rules = true;
};

struct LoadedPolicy {
  Policy policy;
  std::vector<Diagnostic> diagnostics;  // errors and warnings, in file order per step

  bool ok() const;
  std::size_t error_count() const;
  // The errors joined in one Status (invalid_argument), or ok.
  Status status() const;
};

// Decodes and checks policy text; `source` names it in diagnostics (a path, "<stdin>").
LoadedPolicy parse_policy(std::string_view text, std::string_view source,
                          const LoadOptions& options = {});

// Reads and parses a policy file (refusing files larger than kMaxPolicyBytes).
LoadedPolicy load_policy_file(const std::string& path, const LoadOptions& options = {});

}  // namespace ktrail::policy
