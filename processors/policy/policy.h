// The audit policy model (audit.k8s.io/v1 Policy), as kube-apiserver reads it from
// `--audit-policy-file`: plain data, produced by the loader (policy/loader.h), checked by
// validation (policy/validation.h) and compiled for evaluation (policy/checker.h).
//
// Every element remembers where it came from in the file (line and column, 1-based; 0 when
// the policy was built in code) so that errors and warnings can point at it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/audit_event.h"

namespace ktrail::policy {

struct SourcePos {
  int line = 0;
  int column = 0;
};

// A set of stages, one bit per Stage value.
class StageSet {
 public:
  StageSet() = default;
  void add(Stage s) { bits_ |= bit(s); }
  bool contains(Stage s) const { return (bits_ & bit(s)) != 0; }
  bool empty() const { return bits_ == 0; }
  StageSet united(StageSet other) const { return StageSet(bits_ | other.bits_); }
  bool operator==(const StageSet&) const = default;
  // The stages in their canonical order (RequestReceived .. Panic).
  std::vector<Stage> to_vector() const;

 private:
  explicit StageSet(std::uint8_t bits) : bits_(bits) {}
  static std::uint8_t bit(Stage s) { return static_cast<std::uint8_t>(1u << static_cast<int>(s)); }
  std::uint8_t bits_ = 0;
};

// The set union of two stage lists, as the policy checker unites policy and rule omitStages.
StageSet union_stages(StageSet a, StageSet b);

struct GroupResources {
  std::string group;                        // "" = core; "*" = any group
  std::vector<std::string> resources;       // empty = every resource and subresource
  std::vector<std::string> resource_names;  // empty = every name
  SourcePos pos;
};

struct PolicyRule {
  // The level as written; validation rejects anything but the four level names.
  std::string level;
  std::vector<std::string> users;
  std::vector<std::string> user_groups;
  std::vector<std::string> verbs;
  std::vector<GroupResources> resources;
  std::vector<std::string> namespaces;
  std::vector<std::string> non_resource_urls;
  // Stage names as written (validated later), and their parsed set.
  std::vector<std::string> omit_stages;
  std::optional<bool> omit_managed_fields;
  SourcePos pos;  // the rule itself
  SourcePos level_pos, urls_pos, stages_pos;
};

struct Policy {
  std::string api_version;
  std::string kind;
  std::vector<PolicyRule> rules;
  std::vector<std::string> omit_stages;
  bool omit_managed_fields = false;
  SourcePos pos, type_pos, stages_pos;
};

}  // namespace ktrail::policy
