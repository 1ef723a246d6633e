// Evaluating an audit policy against one request, with kube-apiserver's matching rules
// (first matching rule wins; see k8s-audit-spec.md §1.3-1.4):
//  * users / userGroups need an authenticated user; verbs, namespaces, resourceNames and users
//    are literal (a "*" there is the string "*");
//  * a rule with resources or namespaces matches resource requests only; `namespaces: [""]`
//    means cluster-scoped; resources accept "res", "res/sub", "*", "*/sub" and "res/*" (which
//    also matches the bare "res"); group "*" matches every group;
//  * a rule with nonResourceURLs matches non-resource requests only: "*", the exact path, or a
//    raw string prefix for a trailing '*';
//  * no match -> level None.
//
// The policy is compiled once: every string the rules mention is interned to an integer, so
// a request costs one hash lookup per attribute and then integer comparisons per rule, never
// a string scan per rule (trailing-'*' URL prefixes excepted). A CompiledPolicy is immutable
// and safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit_event.h"
#include "core/status.h"
#include "processors/policy/policy.h"

namespace ktrail::policy {

// The attributes of one request, as views into storage the caller keeps alive.
struct RequestAttributes {
  bool has_user = false;  // false: unauthenticated, no user at all
  std::string_view user;
  const std::vector<std::string>* groups = nullptr;
  std::string_view verb;
  bool is_resource_request = false;
  std::string_view namespace_;
  std::string_view api_group;
  std::string_view resource;
  std::string_view subresource;
  std::string_view name;
  std::string_view path;  // non-resource requests only
};

struct Decision {
  Level level = Level::kNone;
  StageSet omit_stages;
  bool omit_managed_fields = false;
  std::optional<std::size_t> rule;  // 0-based index of the matching rule

  // Whether an event of `stage` is emitted under this decision.
  bool keeps(Stage stage) const { return level != Level::kNone && !omit_stages.contains(stage); }
};

class CompiledPolicy {
 public:
  // `policy` must have passed validation (an unknown level or stage is an error here too).
  static Result<std::shared_ptr<const CompiledPolicy>> compile(const Policy& policy);

  Decision evaluate(const RequestAttributes& request) const;
  std::size_t rule_count() const;

  ~CompiledPolicy();
  CompiledPolicy(const CompiledPolicy&) = delete;
  CompiledPolicy& operator=(const CompiledPolicy&) = delete;

  struct Impl;

 private:
  explicit CompiledPolicy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The attributes kube-apiserver evaluated for the request that produced `event` (spec §1.6):
// the authenticated user (never impersonatedUser; an empty user object means none), the
// verb, objectRef for resource requests, and requestURI's decoded path otherwise. For a
// create, namespace and name come from the URL as kube-apiserver saw them (the event's
// objectRef carries the created object's, filled in after the decision), so that every
// stage of a request gets the decision kube-apiserver made once for it.
// `path_storage` holds the decoded path; keep it alive with the result.
RequestAttributes attributes_from_event(const AuditEvent& event, std::string* path_storage);

}  // namespace ktrail::policy
