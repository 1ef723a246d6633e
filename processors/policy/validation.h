// Validation of a decoded policy, as kube-apiserver's ValidatePolicy does it: every problem is
// reported (not just the first), each naming the rule and field.
//
// Checked: levels (required, one of the four), nonResourceURLs ('/'-prefixed or "*", '*' only
// last, never together with resources or namespaces), groups ("", "*" or a DNS-1123
// subdomain), resourceNames only with resources, omitStages (policy and rules) valid stages.
// Not checked, as upstream: verbs, users, groups, resource strings, duplicate rules.
#pragma once

#include <string_view>
#include <vector>

#include "processors/policy/loader.h"
#include "processors/policy/policy.h"

namespace ktrail::policy {

// Appends one error Diagnostic per problem (file = `source`).
void validate_policy(const Policy& policy, std::string_view source, std::vector<Diagnostic>* out);

bool is_dns1123_subdomain(std::string_view value);

// Advice beyond what kube-apiserver checks, for `ktrail policy lint` (warnings only):
//  * rules after a rule with no selectors can never match;
//  * resourceNames in a rule whose verbs all carry no name (create, list, watch,
//    deletecollection) match only through fieldSelector=metadata.name, or never;
//  * group "*" is refused by kube-apiserver before v1.36, so the file is not portable.
void lint_policy(const Policy& policy, std::string_view source, std::vector<Diagnostic>* out);

}  // namespace ktrail::policy
