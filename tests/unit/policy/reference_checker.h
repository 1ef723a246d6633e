// A direct, unoptimised transcription of the matching algorithm of k8s-audit-spec.md §1.3
// over the uncompiled Policy: string comparisons, rule by rule. It is the reference the
// compiled checker is compared with (differential test) and the baseline of its benchmark.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "processors/policy/checker.h"
#include "processors/policy/policy.h"

namespace ktrail::policy::testing {

inline bool has(const std::vector<std::string>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

inline bool reference_rule_matches(const PolicyRule& r, const RequestAttributes& a) {
  if (!r.users.empty() && (!a.has_user || !has(r.users, a.user))) {
    return false;
  }
  if (!r.user_groups.empty()) {
    if (!a.has_user || a.groups == nullptr) {
      return false;
    }
    bool any = false;
    for (const auto& g : *a.groups) {
      any = any || has(r.user_groups, g);
    }
    if (!any) {
      return false;
    }
  }
  if (!r.verbs.empty() && !has(r.verbs, a.verb)) {
    return false;
  }
  if (!r.namespaces.empty() || !r.resources.empty()) {
    if (!a.is_resource_request) {
      return false;
    }
    if (!r.namespaces.empty() && !has(r.namespaces, a.namespace_)) {
      return false;
    }
    if (r.resources.empty()) {
      return true;
    }
    std::string combined(a.resource);
    if (!a.subresource.empty()) {
      combined += "/" + std::string(a.subresource);
    }
    for (const auto& gr : r.resources) {
      if (gr.group != a.api_group && gr.group != "*") {
        continue;
      }
      if (gr.resources.empty()) {
        return true;
      }
      for (const auto& spec : gr.resources) {
        if (!gr.resource_names.empty() && !has(gr.resource_names, a.name)) {
          continue;
        }
        if (spec == combined || spec == "*") {
          return true;
        }
        // strings.TrimPrefix(spec, "*/") and strings.TrimSuffix(spec, "/*"): one each.
        if (!a.subresource.empty() && spec.rfind("*/", 0) == 0 && a.subresource == spec.substr(2)) {
          return true;
        }
        if (spec.size() >= 2 && spec.compare(spec.size() - 2, 2, "/*") == 0 &&
            a.resource == spec.substr(0, spec.size() - 2)) {
          return true;
        }
      }
    }
    return false;
  }
  if (!r.non_resource_urls.empty()) {
    if (a.is_resource_request) {
      return false;
    }
    for (const auto& spec : r.non_resource_urls) {
      if (spec == "*" || spec == a.path) {
        return true;
      }
      if (!spec.empty() && spec.back() == '*') {
        const std::size_t k = spec.find_last_not_of('*');
        const std::string prefix = k == std::string::npos ? "" : spec.substr(0, k + 1);
        if (a.path.substr(0, prefix.size()) == prefix) {
          return true;
        }
      }
    }
    return false;
  }
  return true;
}

// The 0-based index of the first matching rule, or -1.
inline int reference_first_match(const Policy& p, const RequestAttributes& a) {
  for (std::size_t i = 0; i < p.rules.size(); ++i) {
    if (reference_rule_matches(p.rules[i], a)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace ktrail::policy::testing
