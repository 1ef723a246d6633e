#include "processors/policy/loader.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "processors/policy/document.h"
#include "processors/policy/validation.h"

namespace ktrail::policy {
namespace {

using Kind = DocValue::Kind;

const char* type_name(const DocValue& v) {
  switch (v.kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "a boolean";
    case Kind::kNumber:
      return "a number";
    case Kind::kString:
      return "a string";
    case Kind::kObject:
      return "a mapping";
    case Kind::kArray:
      return "a list";
  }
  return "?";
}

bool equal_fold(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x | 0x20 : x) == (y >= 'A' && y <= 'Z' ? y | 0x20 : y);
         });
}

// Decodes the JSON value tree into a Policy as Go's JSON decoder fills the typed struct:
// field names are case-sensitive, unknown fields are dropped (a warning here), null leaves a
// field at its zero value, and any other type mismatch refuses the file.
class Decoder {
 public:
  Decoder(std::string_view source, std::vector<Diagnostic>* out) : source_(source), out_(out) {}

  // kube-apiserver first reads apiVersion and kind alone, with Go's encoding/json, which
  // matches the names case-insensitively (the last match wins) and leaves them as they were
  // for a null.
  void interpret_type(const DocValue& root, Policy* policy) {
    if (root.kind != Kind::kObject) {
      return;
    }
    for (const DocEntry& e : root.object) {
      std::string* target = nullptr;
      if (equal_fold(e.key, "apiVersion")) {
        target = &policy->api_version;
        policy->type_pos = e.key_pos;
      } else if (equal_fold(e.key, "kind")) {
        target = &policy->kind;
      } else {
        continue;
      }
      if (e.value.kind == Kind::kString) {
        *target = e.value.text;
      } else if (e.value.kind != Kind::kNull) {
        error(e.value.pos, e.key,
              std::string("couldn't get version/kind: must be a string, got ") +
                  type_name(e.value));
      }
    }
  }

  void decode(const DocValue& root, Policy* policy) {
    if (root.kind == Kind::kNull) {
      return;  // an empty document: no apiVersion, no rules; later steps say so
    }
    policy->pos = root.pos;
    if (root.kind != Kind::kObject) {
      error(root.pos, "", std::string("a policy must be a mapping, got ") + type_name(root));
      return;
    }
    std::set<std::string> seen;
    for (const DocEntry& e : root.object) {
      const std::string& key = e.key;
      const DocValue& v = e.value;
      note_duplicates(e, key, &seen);
      if (key == "apiVersion" || key == "kind") {
        std::string ignored;
        read_string(v, key, &ignored);
      } else if (key == "metadata") {
        decode_metadata(v, key);
      } else if (key == "rules") {
        read_array(v, key, &policy->rules,
                   [&](const DocValue& item, const std::string& field, PolicyRule* rule) {
                     decode_rule(item, field, rule);
                   });
      } else if (key == "omitStages") {
        policy->stages_pos = v.pos;
        read_strings(v, key, &policy->omit_stages);
      } else if (key == "omitManagedFields") {
        read_bool(v, key, &policy->omit_managed_fields);
      } else {
        warning(e.key_pos, key, unknown_field_message(key, "kube-apiserver ignores it"));
      }
    }
  }

  bool too_large() const { return too_large_; }

 private:
  // Keys given twice: YAML's are merged by the reader (DocEntry::duplicates), JSON's come
  // one entry each.
  void note_duplicates(const DocEntry& e, const std::string& field, std::set<std::string>* seen) {
    for (const SourcePos& pos : e.duplicates) {
      warning(pos, field, "duplicate field (the last one wins)");
    }
    if (!seen->insert(e.key).second) {
      warning(e.key_pos, field, "duplicate field (the last one wins)");
    }
  }

  static std::string unknown_field_message(const std::string& key, const std::string& what) {
    if (key == "<<") {
      return "unknown field: a quoted \"<<\" is not a YAML merge key (" + what + ")";
    }
    return "unknown field (" + what + ")";
  }

  // ObjectMeta's fields, typed as kube-apiserver decodes them.
  void decode_metadata(const DocValue& v, const std::string& at) {
    if (v.kind == Kind::kNull) {
      return;
    }
    if (v.kind != Kind::kObject) {
      error(v.pos, at, std::string("must be a mapping, got ") + type_name(v));
      return;
    }
    static const std::set<std::string> kStrings = {
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
        "creationTimestamp", "deletionTimestamp"};
    for (const DocEntry& e : v.object) {
      const std::string field = at + "." + e.key;
      if (kStrings.count(e.key)) {
        std::string ignored;
        read_string(e.value, field, &ignored);
      } else if (e.key == "generation" || e.key == "deletionGracePeriodSeconds") {
        if (e.value.kind != Kind::kNull && e.value.kind != Kind::kNumber) {
          error(e.value.pos, field, std::string("must be a number, got ") + type_name(e.value));
        }
      } else if (e.key == "labels" || e.key == "annotations") {
        if (e.value.kind == Kind::kObject) {
          for (const DocEntry& kv : e.value.object) {
            std::string ignored;
            read_string(kv.value, field + "." + kv.key, &ignored);
          }
        } else if (e.value.kind != Kind::kNull) {
          error(e.value.pos, field, std::string("must be a mapping, got ") + type_name(e.value));
        }
      } else if (e.key == "finalizers") {
        std::vector<std::string> ignored;
        read_strings(e.value, field, &ignored);
      } else if (e.key == "ownerReferences" || e.key == "managedFields") {
        if (e.value.kind != Kind::kNull && e.value.kind != Kind::kArray) {
          error(e.value.pos, field, std::string("must be a list, got ") + type_name(e.value));
        }
      }
    }
  }

  void decode_rule(const DocValue& node, const std::string& at, PolicyRule* rule) {
    rule->pos = node.pos;
    if (node.kind == Kind::kNull) {
      return;  // an empty rule: validation reports the missing level
    }
    if (node.kind != Kind::kObject) {
      error(node.pos, at, std::string("a rule must be a mapping, got ") + type_name(node));
      return;
    }
    std::set<std::string> seen;
    for (const DocEntry& e : node.object) {
      const std::string& key = e.key;
      const std::string field = at + "." + key;
      const DocValue& v = e.value;
      note_duplicates(e, field, &seen);
      if (key == "level") {
        rule->level_pos = v.pos;
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
        rule->urls_pos = v.pos;
        read_strings(v, field, &rule->non_resource_urls);
      } else if (key == "omitStages") {
        rule->stages_pos = v.pos;
        read_strings(v, field, &rule->omit_stages);
      } else if (key == "omitManagedFields") {
        if (v.kind == Kind::kNull) {
          rule->omit_managed_fields.reset();
        } else {
          bool b = false;
          if (read_bool(v, field, &b)) {
            rule->omit_managed_fields = b;
          }
        }
      } else if (key == "resources") {
        read_array(v, field, &rule->resources,
                   [&](const DocValue& item, const std::string& f, GroupResources* gr) {
                     decode_group_resources(item, f, gr);
                   });
      } else {
        warning(e.key_pos, field,
                unknown_field_message(key, "kube-apiserver ignores it, so the rule is wider"));
      }
    }
  }

  void decode_group_resources(const DocValue& node, const std::string& at, GroupResources* gr) {
    gr->pos = node.pos;
    if (node.kind == Kind::kNull) {
      return;
    }
    if (node.kind != Kind::kObject) {
      error(node.pos, at, std::string("must be a mapping, got ") + type_name(node));
      return;
    }
    std::set<std::string> seen;
    for (const DocEntry& e : node.object) {
      const std::string field = at + "." + e.key;
      note_duplicates(e, field, &seen);
      if (e.key == "group") {
        read_string(e.value, field, &gr->group);
      } else if (e.key == "resources") {
        read_strings(e.value, field, &gr->resources);
      } else if (e.key == "resourceNames") {
        read_strings(e.value, field, &gr->resource_names);
      } else {
        warning(e.key_pos, field,
                unknown_field_message(e.key, "kube-apiserver ignores it, so the rule is wider"));
      }
    }
  }

  // Go's decoder fills a slice in place: element i is decoded into what is already there (a
  // duplicate key's later list merges into the earlier one's elements), then the slice is cut
  // to the new length; null empties it.
  template <typename T, typename Fn>
  void read_array(const DocValue& node, const std::string& field, std::vector<T>* out,
                  Fn&& each) {
    if (node.kind == Kind::kNull) {
      out->clear();
      return;
    }
    if (node.kind != Kind::kArray) {
      error(node.pos, field, std::string("must be a list, got ") + type_name(node));
      return;
    }
    std::size_t i = 0;
    for (const DocValue& item : node.array) {
      if (!count_one(item)) {
        return;
      }
      if (i >= out->size()) {
        out->emplace_back();
      }
      each(item, field + "[" + std::to_string(i) + "]", &(*out)[i]);
      ++i;
    }
    out->resize(i);
  }

  void read_strings(const DocValue& node, const std::string& field,
                    std::vector<std::string>* out) {
    read_array(node, field, out, [&](const DocValue& item, const std::string& f, std::string* s) {
      read_string(item, f, s);  // a null item leaves the element as it was ("" if new)
    });
  }

  // null leaves the field as it was, as Go's decoder does.
  bool read_string(const DocValue& node, const std::string& field, std::string* out) {
    if (node.kind == Kind::kNull) {
      return true;
    }
    if (node.kind != Kind::kString) {
      error(node.pos, field, std::string("must be a string, got ") + type_name(node));
      return false;
    }
    *out = node.text;
    return true;
  }

  bool read_bool(const DocValue& node, const std::string& field, bool* out) {
    if (node.kind == Kind::kNull) {
      return true;
    }
    if (node.kind != Kind::kBool) {
      error(node.pos, field, std::string("must be a boolean, got ") + type_name(node));
      return false;
    }
    *out = node.boolean;
    return true;
  }

  bool count_one(const DocValue& node) {
    if (++count_ <= kMaxPolicyStrings) {
      return true;
    }
    if (!too_large_) {
      too_large_ = true;
      error(node.pos, "",
            "the policy has more than " + std::to_string(kMaxPolicyStrings) +
                " list entries (after expanding aliases); refusing it");
    }
    return false;
  }

  void error(SourcePos pos, const std::string& field, std::string message) {
    out_->push_back({Severity::kError, std::string(source_), pos, field, std::move(message)});
  }
  void warning(SourcePos pos, const std::string& field, std::string message) {
    out_->push_back({Severity::kWarning, std::string(source_), pos, field, std::move(message)});
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
  const Document doc = read_document(text, kMaxPolicyStrings);
  if (!doc.ok) {
    return fail(doc.error.pos, doc.error.message);
  }
  Decoder decoder(source, &out.diagnostics);
  decoder.interpret_type(doc.root, &out.policy);
  decoder.decode(doc.root, &out.policy);
  if (!out.ok()) {
    return out;
  }
  if (options.require_type_meta) {
    // kube-apiserver fills a missing or empty kind in from the type it decodes into (Policy);
    // the apiVersion must say audit.k8s.io/v1.
    const Policy& p = out.policy;
    if (p.api_version != "audit.k8s.io/v1" || (!p.kind.empty() && p.kind != "Policy")) {
      std::string why;
      if (p.api_version.empty()) {
        why =
            "unknown group version field: apiVersion must be present "
            "(apiVersion: audit.k8s.io/v1)";
      } else if (p.api_version != "audit.k8s.io/v1") {
        why = "unknown group version field \"" + p.api_version +
              "\" in policy (only audit.k8s.io/v1 is supported)";
      } else {
        why = "unknown kind \"" + p.kind + "\" (expected Policy, or no kind)";
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
