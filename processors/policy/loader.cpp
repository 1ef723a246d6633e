#include "processors/policy/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "processors/policy/validation.h"

namespace ktrail::policy {
namespace {

SourcePos pos_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

// What a plain (unquoted) YAML scalar resolves to under the YAML 1.1 rules kube-apiserver's
// decoder uses. A quoted scalar is always a string.
enum class ScalarKind { kString, kNull, kBool, kNumber };

bool is_number(const std::string& s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++i;
  }
  if (s.compare(i, std::string::npos, ".inf") == 0 ||
      s.compare(i, std::string::npos, ".Inf") == 0 || s == ".nan" || s == ".NaN") {
    return true;
  }
  bool digits = false;
  bool dot = false;
  bool exp = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '_' && digits) {
    } else if (c == '.' && !dot && !exp) {
      dot = true;
    } else if ((c == 'e' || c == 'E') && digits && !exp) {
      exp = true;
      digits = false;
      if (i + 1 < s.size() && (s[i + 1] == '+' || s[i + 1] == '-')) {
        ++i;
      }
    } else if ((c == 'x' || c == 'o') && i == 1 && s[0] == '0') {
      // 0x1F, 0o17
    } else if (((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) && s.size() > 2 && s[1] == 'x') {
    } else {
      return false;
    }
  }
  return digits;
}

ScalarKind scalar_kind(const YAML::Node& node) {
  if (node.Tag() != "?") {
    return ScalarKind::kString;  // quoted ("!") or explicitly tagged
  }
  static const std::set<std::string> kNull = {"", "~", "null", "Null", "NULL"};
  static const std::set<std::string> kBool = {
      "y",    "Y",    "yes",   "Yes",   "YES",   "n",  "N",  "no", "No",  "NO",  "true",
      "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"};
  const std::string& s = node.Scalar();
  if (kNull.count(s)) {
    return ScalarKind::kNull;
  }
  if (kBool.count(s)) {
    return ScalarKind::kBool;
  }
  if (is_number(s)) {
    return ScalarKind::kNumber;
  }
  return ScalarKind::kString;
}

const char* kind_name(ScalarKind k) {
  switch (k) {
    case ScalarKind::kNull:
      return "null";
    case ScalarKind::kBool:
      return "a boolean";
    case ScalarKind::kNumber:
      return "a number";
    case ScalarKind::kString:
      return "a string";
  }
  return "?";
}

const char* node_type_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return kind_name(scalar_kind(node));
    default:
      return "null";
  }
}

bool is_null(const YAML::Node& node) {
  return !node.IsDefined() || node.IsNull() ||
         (node.IsScalar() && scalar_kind(node) == ScalarKind::kNull);
}

// Turns a YAML tree into a Policy, collecting diagnostics.
class Decoder {
 public:
  Decoder(std::string_view source, std::vector<Diagnostic>* out) : source_(source), out_(out) {}

  void decode(const YAML::Node& root, Policy* policy) {
    if (is_null(root)) {
      return;  // an empty document: no apiVersion, no rules; later steps say so
    }
    policy->pos = pos_of(root);
    if (!root.IsMap()) {
      error(root, "", std::string("a policy must be a mapping, got ") + node_type_name(root));
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : root) {
      const std::string key = key_of(kv.first);
      if (!seen.insert(key).second) {
        warning(kv.first, key, "duplicate field (the last one wins)");
      }
      const YAML::Node& v = kv.second;
      if (key == "apiVersion") {
        policy->type_pos = pos_of(kv.first);
        read_string(v, key, &policy->api_version);
      } else if (key == "kind") {
        read_string(v, key, &policy->kind);
      } else if (key == "metadata") {
        if (!is_null(v) && !v.IsMap()) {
          error(v, key, std::string("must be a mapping, got ") + node_type_name(v));
        }
      } else if (key == "rules") {
        policy->rules.clear();
        read_list(v, key, [&](const YAML::Node& item, const std::string& field) {
          PolicyRule rule;
          decode_rule(item, field, &rule);
          policy->rules.push_back(std::move(rule));
        });
      } else if (key == "omitStages") {
        policy->stages_pos = pos_of(v);
        read_strings(v, key, &policy->omit_stages);
      } else if (key == "omitManagedFields") {
        read_bool(v, key, &policy->omit_managed_fields);
      } else {
        warning(kv.first, key, "unknown field (kube-apiserver ignores it)");
      }
    }
  }

  bool too_large() const { return too_large_; }

 private:
  std::string key_of(const YAML::Node& key) {
    return key.IsScalar() ? key.Scalar() : std::string("<non-scalar key>");
  }

  void decode_rule(const YAML::Node& node, const std::string& at, PolicyRule* rule) {
    rule->pos = pos_of(node);
    if (is_null(node)) {
      return;  // an empty rule: validation reports the missing level
    }
    if (!node.IsMap()) {
      error(node, at, std::string("a rule must be a mapping, got ") + node_type_name(node));
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const std::string key = key_of(kv.first);
      const std::string field = at + "." + key;
      if (!seen.insert(key).second) {
        warning(kv.first, field, "duplicate field (the last one wins)");
      }
      const YAML::Node& v = kv.second;
      if (key == "level") {
        rule->level_pos = pos_of(v);
        read_string(v, field, &rule->level);
      } else if (key == "users") {
        read_strings(v, field, &rule->users);
      } else if (key == "userGroups") {
        read_strings(v, field, &rule->user_groups);
      } else if (key == "verbs") {
        read_strings(v, field, &rule->verbs);
      } else if (key == "namespaces") {
        read_strings(v, field, &rule->namespaces);
      } else if (key == "nonResourceURLs") {
        rule->urls_pos = pos_of(v);
        read_strings(v, field, &rule->non_resource_urls);
      } else if (key == "omitStages") {
        rule->stages_pos = pos_of(v);
        read_strings(v, field, &rule->omit_stages);
      } else if (key == "omitManagedFields") {
        if (is_null(v)) {
          rule->omit_managed_fields.reset();
        } else {
          bool b = false;
          if (read_bool(v, field, &b)) {
            rule->omit_managed_fields = b;
          }
        }
      } else if (key == "resources") {
        rule->resources.clear();
        read_list(v, field, [&](const YAML::Node& item, const std::string& f) {
          GroupResources gr;
          decode_group_resources(item, f, &gr);
          rule->resources.push_back(std::move(gr));
        });
      } else {
        warning(kv.first, field, "unknown field (kube-apiserver ignores it, so the rule is wider)");
      }
    }
  }

  void decode_group_resources(const YAML::Node& node, const std::string& at, GroupResources* gr) {
    gr->pos = pos_of(node);
    if (is_null(node)) {
      return;
    }
    if (!node.IsMap()) {
      error(node, at, std::string("must be a mapping, got ") + node_type_name(node));
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const std::string key = key_of(kv.first);
      const std::string field = at + "." + key;
      if (!seen.insert(key).second) {
        warning(kv.first, field, "duplicate field (the last one wins)");
      }
      if (key == "group") {
        read_string(kv.second, field, &gr->group);
      } else if (key == "resources") {
        read_strings(kv.second, field, &gr->resources);
      } else if (key == "resourceNames") {
        read_strings(kv.second, field, &gr->resource_names);
      } else {
        warning(kv.first, field, "unknown field (kube-apiserver ignores it, so the rule is wider)");
      }
    }
  }

  template <typename Fn>
  void read_list(const YAML::Node& node, const std::string& field, Fn&& each) {
    if (is_null(node)) {
      return;
    }
    if (!node.IsSequence()) {
      error(node, field, std::string("must be a list, got ") + node_type_name(node));
      return;
    }
    std::size_t i = 0;
    for (const auto& item : node) {
      if (!count_one(item)) {
        return;
      }
      each(item, field + "[" + std::to_string(i++) + "]");
    }
  }

  void read_strings(const YAML::Node& node, const std::string& field,
                    std::vector<std::string>* out) {
    out->clear();
    read_list(node, field, [&](const YAML::Node& item, const std::string& f) {
      std::string s;
      if (read_string(item, f, &s)) {
        out->push_back(std::move(s));
      }
    });
  }

  bool read_string(const YAML::Node& node, const std::string& field, std::string* out) {
    if (is_null(node)) {
      out->clear();
      return true;
    }
    if (!node.IsScalar() || scalar_kind(node) != ScalarKind::kString) {
      error(node, field, std::string("must be a string, got ") + node_type_name(node));
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  bool read_bool(const YAML::Node& node, const std::string& field, bool* out) {
    if (is_null(node)) {
      *out = false;
      return true;
    }
    if (!node.IsScalar() || scalar_kind(node) != ScalarKind::kBool) {
      error(node, field, std::string("must be a boolean, got ") + node_type_name(node));
      return false;
    }
    const char c = node.Scalar()[0];
    *out = c == 't' || c == 'T' || c == 'y' || c == 'Y' || node.Scalar() == "on" ||
           node.Scalar() == "On" || node.Scalar() == "ON";
    return true;
  }

  bool count_one(const YAML::Node& node) {
    if (++count_ <= kMaxPolicyStrings) {
      return true;
    }
    if (!too_large_) {
      too_large_ = true;
      error(node, "",
            "the policy has more than " + std::to_string(kMaxPolicyStrings) +
                " list entries (after expanding aliases); refusing it");
    }
    return false;
  }

  void error(const YAML::Node& node, const std::string& field, std::string message) {
    out_->push_back(
        {Severity::kError, std::string(source_), pos_of(node), field, std::move(message)});
  }
  void warning(const YAML::Node& node, const std::string& field, std::string message) {
    out_->push_back(
        {Severity::kWarning, std::string(source_), pos_of(node), field, std::move(message)});
  }

  std::string_view source_;
  std::vector<Diagnostic>* out_;
  std::size_t count_ = 0;
  bool too_large_ = false;
};

}  // namespace

std::string Diagnostic::to_string() const {
  std::string s = file.empty() ? "<policy>" : file;
  if (pos.line > 0) {
    s += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  }
  s += severity == Severity::kError ? ": error: " : ": warning: ";
  if (!field.empty()) {
    s += field + ": ";
  }
  return s + message;
}

bool LoadedPolicy::ok() const { return error_count() == 0; }

std::size_t LoadedPolicy::error_count() const {
  std::size_t n = 0;
  for (const auto& d : diagnostics) {
    n += d.severity == Severity::kError ? 1 : 0;
  }
  return n;
}

Status LoadedPolicy::status() const {
  std::string text;
  for (const auto& d : diagnostics) {
    if (d.severity == Severity::kError) {
      text += (text.empty() ? "" : "; ") + d.to_string();
    }
  }
  return text.empty() ? Status::ok() : invalid_argument(text);
}

LoadedPolicy parse_policy(std::string_view text, std::string_view source,
                          const LoadOptions& options) {
  LoadedPolicy out;
  auto fail = [&](SourcePos pos, std::string message) {
    out.diagnostics.push_back({Severity::kError, std::string(source), pos, "", std::move(message)});
    return out;
  };
  if (text.size() > kMaxPolicyBytes) {
    return fail({}, "policy is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                        std::to_string(kMaxPolicyBytes));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    SourcePos pos;
    if (!e.mark.is_null()) {
      pos = {e.mark.line + 1, e.mark.column + 1};
    }
    return fail(pos, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return fail({}, std::string("cannot read the policy: ") + e.what());
  }
  Decoder decoder(source, &out.diagnostics);
  try {
    decoder.decode(root, &out.policy);
  } catch (const std::exception& e) {
    return fail({}, std::string("cannot decode the policy: ") + e.what());
  }
  if (!out.ok()) {
    return out;
  }
  if (options.require_type_meta) {
    const Policy& p = out.policy;
    if (p.api_version != "audit.k8s.io/v1" || p.kind != "Policy") {
      std::string why;
      if (p.api_version.empty() || p.kind.empty()) {
        why =
            "unknown group version field: apiVersion and kind must be present "
            "(apiVersion: audit.k8s.io/v1, kind: Policy)";
      } else if (p.api_version != "audit.k8s.io/v1") {
        why = "unknown group version field \"" + p.api_version +
              "\" in policy (only audit.k8s.io/v1 is supported)";
      } else {
        why = "unknown kind \"" + p.kind + "\" (expected Policy)";
      }
      return fail(p.type_pos, why);
    }
  }
  validate_policy(out.policy, source, &out.diagnostics);
  if (out.ok() && options.require_rules && out.policy.rules.empty()) {
    return fail(out.policy.pos, "loaded illegal policy with 0 rules");
  }
  // Decoding and validation report separately; a reader wants them in file order.
  std::stable_sort(out.diagnostics.begin(), out.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
                   });
  return out;
}

LoadedPolicy load_policy_file(const std::string& path, const LoadOptions& options) {
  LoadedPolicy out;
  auto fail = [&](std::string message) {
    out.diagnostics.push_back({Severity::kError, path, {}, "", std::move(message)});
    return out;
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail("cannot open the policy file");
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxPolicyBytes) {
      return fail("policy file is larger than the limit of " + std::to_string(kMaxPolicyBytes) +
                  " bytes");
    }
  }
  if (in.bad()) {
    return fail("cannot read the policy file");
  }
  return parse_policy(text, path, options);
}

}  // namespace ktrail::policy
