// Helpers shared by the policy tests: reading the conformance vectors and turning their JSON
// objects into policies and request attributes.
#pragma once

#include <rapidjson/document.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.h"
#include "processors/policy/checker.h"
#include "processors/policy/loader.h"

namespace ktrail::policy::testing {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string data_path(const std::string& name) {
  return std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + name;
}

// The vectors, from tests/data (copied from the shared conformance set, see SOURCES.md).
inline const rapidjson::Document& vectors() {
  static const rapidjson::Document* doc = [] {
    auto* d = new rapidjson::Document;
    Status s = json::parse(read_file(data_path("policy-vectors.json")), d);
    if (!s.is_ok() || !d->IsObject()) {
      d->SetObject();
    }
    return d;
  }();
  return *doc;
}

// A request as the vectors write it, with storage for the views of RequestAttributes.
struct OwnedRequest {
  bool has_user = false;
  std::string user;
  std::vector<std::string> groups;
  std::string verb, ns, group, resource, subresource, name, path;
  bool is_resource = false;

  RequestAttributes attrs() const {
    RequestAttributes a;
    a.has_user = has_user;
    a.user = user;
    a.groups = &groups;
    a.verb = verb;
    a.is_resource_request = is_resource;
    a.namespace_ = ns;
    a.api_group = group;
    a.resource = resource;
    a.subresource = subresource;
    a.name = name;
    a.path = path;
    return a;
  }
};

inline OwnedRequest request_from_json(const rapidjson::Value& v) {
  OwnedRequest r;
  auto s = [&](const char* k) { return std::string(json::get_string(v, k)); };
  auto user = v.FindMember("user");
  if (user != v.MemberEnd() && user->value.IsObject()) {
    r.has_user = true;
    r.user = std::string(json::get_string(user->value, "name"));
    auto groups = user->value.FindMember("groups");
    if (groups != user->value.MemberEnd() && groups->value.IsArray()) {
      for (const auto& g : groups->value.GetArray()) {
        r.groups.emplace_back(g.GetString());
      }
    }
  }
  r.verb = s("verb");
  r.ns = s("namespace");
  r.group = s("apiGroup");
  r.resource = s("resource");
  r.subresource = s("subresource");
  r.name = s("name");
  r.path = s("path");
  auto isr = v.FindMember("isResourceRequest");
  r.is_resource = isr != v.MemberEnd() && isr->value.IsBool() && isr->value.GetBool();
  return r;
}

// Decodes and validates a policy body given as JSON (JSON is YAML), without the file-level
// checks (apiVersion/kind, at least one rule) that the vectors' policies do not satisfy.
inline LoadedPolicy policy_from_json(const rapidjson::Value& v) {
  LoadOptions opts;
  opts.require_type_meta = false;
  opts.require_rules = false;
  return parse_policy(json::to_compact(v), "<vector>", opts);
}

inline std::shared_ptr<const CompiledPolicy> compile_or_null(const Policy& p) {
  auto c = CompiledPolicy::compile(p);
  return c ? *c : nullptr;
}

inline std::vector<std::string> stage_names(StageSet set) {
  std::vector<std::string> out;
  for (Stage s : set.to_vector()) {
    out.emplace_back(to_string(s));
  }
  return out;
}

inline StageSet stages_from_json(const rapidjson::Value& v) {
  StageSet set;
  if (v.IsArray()) {
    for (const auto& s : v.GetArray()) {
      if (auto st = parse_stage(s.GetString())) {
        set.add(*st);
      }
    }
  }
  return set;
}

}  // namespace ktrail::policy::testing
