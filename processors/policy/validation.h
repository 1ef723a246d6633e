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

}  // namespace ktrail::policy
