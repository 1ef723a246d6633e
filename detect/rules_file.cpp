#include "detect/rules_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "core/finding.h"

namespace ktrail::detect {
namespace {

const std::set<std::string> kRuleKeys = {
    "rule",    "desc",     "condition", "output",  "priority",     "tags",
    "enabled", "exceptions", "append",  "override", "source",      "warn_evttypes",
    "skip-if-unknown-filter", "capture", "capture_duration"};
const std::set<std::string> kMacroKeys = {"macro", "condition", "append", "override", "source",
                                          "desc"};
const std::set<std::string> kListKeys = {"list", "items", "append", "override", "source",
                                         "desc"};
const std::set<std::string> kExceptionKeys = {"name", "fields", "comps", "values"};

class Loader {
 public:
  Loader(const std::string& file, RuleSet* set, Diagnostics* diags,
         std::vector<int> empty_entry_lines)
      : file_(file), set_(set), diags_(diags), empty_lines_(std::move(empty_entry_lines)) {}

  void load(const YAML::Node& root) {
    if (!root || root.IsNull()) {
      return;
    }
    if (!root.IsSequence()) {
      diags_->error(at(root), "a rules file is a YAML sequence of rule, macro and list items");
      return;
    }
    for (const auto& item : root) {
      if (item.IsNull()) {
        // yaml-cpp gives an empty entry no useful position: take the next lone '-' line.
        Location where = at(item);
        if (next_empty_ < empty_lines_.size()) {
          where = {file_, empty_lines_[next_empty_++], 1};
        }
        diags_->warn(where, "empty entry '-' skipped");
        continue;
      }
      if (!item.IsMap()) {
        diags_->error(at(item), "expected a rule, macro or list item (a YAML mapping)");
        continue;
      }
      if (item["rule"]) {
        rule(item);
      } else if (item["macro"]) {
        macro(item);
      } else if (item["list"]) {
        list(item);
      } else if (item["required_engine_version"]) {
        engine_version(item);
      } else if (item["required_plugin_versions"]) {
        plugin_versions(item);
      } else {
        std::string keys;
        for (const auto& kv : item) {
          keys += (keys.empty() ? "" : ", ") + kv.first.as<std::string>("?");
        }
        diags_->error(at(item), "unknown item with keys (" + keys +
                                    "): expected rule, macro, list, required_engine_version "
                                    "or required_plugin_versions");
      }
    }
  }

 private:
  Location at(const YAML::Node& node) const {
    const YAML::Mark m = node.Mark();
    if (m.is_null()) {
      return {file_, 0, 0};
    }
    return {file_, m.line + 1, m.column + 1};
  }

  bool scalar(const YAML::Node& node, const char* what, std::string* out) {
    if (!node.IsScalar()) {
      diags_->error(at(node), std::string("'") + what + "' must be a string");
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  bool boolean(const YAML::Node& node, const char* what, bool* out) {
    std::string text;
    if (!scalar(node, what, &text)) {
      return false;
    }
    if (text == "true" || text == "True" || text == "TRUE") {
      *out = true;
    } else if (text == "false" || text == "False" || text == "FALSE") {
      *out = false;
    } else {
      diags_->error(at(node), std::string("'") + what + "' must be true or false, not '" + text +
                                  "'");
      return false;
    }
    return true;
  }

  bool strings(const YAML::Node& node, const char* what, std::vector<std::string>* out) {
    if (node.IsNull()) {
      return true;
    }
    if (!node.IsSequence()) {
      diags_->error(at(node), std::string("'") + what + "' must be a list");
      return false;
    }
    for (const auto& item : node) {
      if (item.IsNull()) {
        continue;  // an empty entry, as Falco skips it
      }
      std::string s;
      if (!scalar(item, what, &s)) {
        return false;
      }
      out->push_back(std::move(s));
    }
    return true;
  }

  bool check_keys(const YAML::Node& item, const std::set<std::string>& allowed, const char* kind,
                  const std::string& name) {
    bool ok = true;
    for (const auto& kv : item) {
      const std::string key = kv.first.as<std::string>("");
      if (!allowed.count(key)) {
        diags_->error(at(kv.first), std::string("unknown key '") + key + "' in " + kind + " '" +
                                        name + "'");
        ok = false;
      }
    }
    return ok;
  }

  // Reads `append:` and `override:`; false on an error.
  bool modifiers(const YAML::Node& item, const std::set<std::string>& overridable,
                 const std::string& what, bool* append, std::map<std::string, bool>* override) {
    if (item["append"] && !boolean(item["append"], "append", append)) {
      return false;
    }
    if (const YAML::Node o = item["override"]) {
      if (*append) {
        diags_->error(at(o), what + ": 'append' and 'override' cannot be used together");
        return false;
      }
      if (!o.IsMap()) {
        diags_->error(at(o), what + ": 'override' must map keys to append or replace");
        return false;
      }
      for (const auto& kv : o) {
        const std::string key = kv.first.as<std::string>("");
        const std::string how = kv.second.IsScalar() ? kv.second.Scalar() : "";
        if (!overridable.count(key)) {
          diags_->error(at(kv.first), what + ": key '" + key + "' cannot be overridden");
          return false;
        }
        if (how != "append" && how != "replace") {
          diags_->error(at(kv.second), what + ": override of '" + key +
                                           "' must be append or replace");
          return false;
        }
        if (!item[key]) {
          diags_->error(at(kv.first), what + ": override names '" + key +
                                          "' but the item does not give it");
          return false;
        }
        (*override)[key] = how == "append";
      }
    }
    return true;
  }

  void engine_version(const YAML::Node& item) {
    const YAML::Node v = item["required_engine_version"];
    std::string text;
    if (!scalar(v, "required_engine_version", &text)) {
      return;
    }
    int major = 0;
    int minor = 0;
    int patch = 0;
    char extra = 0;
    if (std::sscanf(text.c_str(), "%d.%d.%d%c", &major, &minor, &patch, &extra) == 3) {
      // semantic version
    } else if (std::sscanf(text.c_str(), "%d%c", &minor, &extra) == 1) {
      major = 0;  // a plain number N means 0.N.0
    } else {
      diags_->error(at(v), "required_engine_version '" + text + "' is not a version");
      return;
    }
    if (major > 0 || minor > kEngineVersionMinor) {
      diags_->error(at(v), "the rules require engine version " + text +
                               "; ktrail implements Falco's engine version 0." +
                               std::to_string(kEngineVersionMinor) + ".0");
    }
  }

  static bool known_plugin(const std::string& name) {
    return name.rfind("k8saudit", 0) == 0 || name == "json";
  }

  void plugin_versions(const YAML::Node& item) {
    const YAML::Node list = item["required_plugin_versions"];
    if (!list.IsSequence()) {
      diags_->error(at(list), "required_plugin_versions must be a list");
      return;
    }
    for (const auto& p : list) {
      if (!p.IsMap() || !p["name"] || !p["version"]) {
        diags_->error(at(p), "a required plugin needs a name and a version");
        continue;
      }
      bool ok = known_plugin(p["name"].as<std::string>(""));
      if (const YAML::Node alts = p["alternatives"]; alts && alts.IsSequence()) {
        for (const auto& a : alts) {
          ok = ok || (a.IsMap() && known_plugin(a["name"].as<std::string>("")));
        }
      }
      if (!ok) {
        diags_->error(at(p), "the rules require plugin '" + p["name"].as<std::string>("") +
                                 "', which ktrail does not provide (it evaluates k8saudit "
                                 "and json fields only)");
      }
    }
  }

  void list(const YAML::Node& item) {
    std::string name;
    if (!scalar(item["list"], "list", &name) || !check_keys(item, kListKeys, "list", name)) {
      return;
    }
    bool append = false;
    std::map<std::string, bool> override;
    if (!modifiers(item, {"items"}, "list '" + name + "'", &append, &override)) {
      return;
    }
    ListDef def;
    def.name = name;
    def.where = at(item);
    if (!item["items"]) {
      diags_->error(at(item), "list '" + name + "' has no 'items'");
      return;
    }
    if (!strings(item["items"], "items", &def.items)) {
      return;
    }
    auto it = std::find_if(set_->lists.begin(), set_->lists.end(),
                           [&](const ListDef& l) { return l.name == name; });
    const bool extend = append || (override.count("items") && override["items"]);
    if (append || !override.empty()) {
      if (it == set_->lists.end()) {
        diags_->error(at(item), "list '" + name + "' is appended to or overridden but was not "
                                    "defined before");
        return;
      }
      if (extend) {
        it->items.insert(it->items.end(), def.items.begin(), def.items.end());
      } else {
        it->items = std::move(def.items);
      }
      return;
    }
    if (it != set_->lists.end()) {
      *it = std::move(def);
    } else {
      set_->lists.push_back(std::move(def));
    }
  }

  void macro(const YAML::Node& item) {
    std::string name;
    if (!scalar(item["macro"], "macro", &name) || !check_keys(item, kMacroKeys, "macro", name)) {
      return;
    }
    bool append = false;
    std::map<std::string, bool> override;
    if (!modifiers(item, {"condition"}, "macro '" + name + "'", &append, &override)) {
      return;
    }
    MacroDef def;
    def.name = name;
    if (!item["condition"]) {
      diags_->error(at(item), "macro '" + name + "' has no 'condition'");
      return;
    }
    if (!scalar(item["condition"], "condition", &def.condition)) {
      return;
    }
    def.where = at(item["condition"]);
    auto it = std::find_if(set_->macros.begin(), set_->macros.end(),
                           [&](const MacroDef& m) { return m.name == name; });
    if (append || !override.empty()) {
      if (it == set_->macros.end()) {
        diags_->error(at(item), "macro '" + name + "' is appended to or overridden but was not "
                                    "defined before");
        return;
      }
      if (append || override["condition"]) {
        it->condition += " " + def.condition;
      } else {
        it->condition = def.condition;
        it->where = def.where;
      }
      return;
    }
    if (it != set_->macros.end()) {
      *it = std::move(def);
    } else {
      set_->macros.push_back(std::move(def));
    }
  }

  bool exception_value(const YAML::Node& node, ExceptionValue* out) {
    if (node.IsSequence()) {
      out->is_list = true;
      return strings(node, "values", &out->list);
    }
    return scalar(node, "values", &out->text);
  }

  bool exceptions(const YAML::Node& node, const std::string& rule,
                  std::vector<ExceptionDef>* out) {
    if (node.IsNull()) {
      return true;
    }
    if (!node.IsSequence()) {
      diags_->error(at(node), "rule '" + rule + "': 'exceptions' must be a list");
      return false;
    }
    for (const auto& e : node) {
      if (!e.IsMap()) {
        diags_->error(at(e), "rule '" + rule + "': an exception must be a mapping");
        return false;
      }
      ExceptionDef def;
      def.where = at(e);
      if (!e["name"] || !scalar(e["name"], "name", &def.name)) {
        diags_->error(at(e), "rule '" + rule + "': an exception needs a name");
        return false;
      }
      if (!check_keys(e, kExceptionKeys, "exception", def.name)) {
        return false;
      }
      if (const YAML::Node f = e["fields"]) {
        if (f.IsSequence()) {
          def.fields_is_list = true;
          if (!strings(f, "fields", &def.fields)) {
            return false;
          }
        } else {
          std::string one;
          if (!scalar(f, "fields", &one)) {
            return false;
          }
          def.fields.push_back(one);
        }
      }
      if (const YAML::Node c = e["comps"]) {
        if (c.IsSequence()) {
          if (!strings(c, "comps", &def.comps)) {
            return false;
          }
        } else {
          std::string one;
          if (!scalar(c, "comps", &one)) {
            return false;
          }
          def.comps.push_back(one);
        }
      }
      if (const YAML::Node v = e["values"]; v && !v.IsNull()) {
        if (!v.IsSequence()) {
          diags_->error(at(v), "rule '" + rule + "': exception '" + def.name +
                                   "': 'values' must be a list");
          return false;
        }
        for (const auto& entry : v) {
          std::vector<ExceptionValue> tuple;
          if (def.fields_is_list) {
            if (!entry.IsSequence()) {
              diags_->error(at(entry), "rule '" + rule + "': exception '" + def.name +
                                           "': each value must be a list of " +
                                           std::to_string(def.fields.size()) + " values");
              return false;
            }
            for (const auto& x : entry) {
              ExceptionValue ev;
              if (!exception_value(x, &ev)) {
                return false;
              }
              tuple.push_back(std::move(ev));
            }
          } else {
            ExceptionValue ev;
            if (!exception_value(entry, &ev)) {
              return false;
            }
            tuple.push_back(std::move(ev));
          }
          def.values.push_back(std::move(tuple));
        }
      }
      out->push_back(std::move(def));
    }
    return true;
  }

  static void merge_exceptions(std::vector<ExceptionDef>* into, std::vector<ExceptionDef> add) {
    for (auto& e : add) {
      auto it = std::find_if(into->begin(), into->end(),
                             [&](const ExceptionDef& x) { return x.name == e.name; });
      if (it == into->end()) {
        into->push_back(std::move(e));
      } else {
        it->values.insert(it->values.end(), e.values.begin(), e.values.end());
      }
    }
  }

  void rule(const YAML::Node& item) {
    std::string name;
    if (!scalar(item["rule"], "rule", &name) || !check_keys(item, kRuleKeys, "rule", name)) {
      return;
    }
    const std::string what = "rule '" + name + "'";
    bool append = false;
    std::map<std::string, bool> override;
    if (!modifiers(item,
                   {"condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
                    "capture", "capture_duration"},
                   what, &append, &override)) {
      return;
    }
    RuleDef def;
    def.name = name;
    def.where = at(item);
    bool ok = true;
    auto text = [&](const char* key, std::string* out, Location* where = nullptr) {
      if (const YAML::Node n = item[key]) {
        ok = scalar(n, key, out) && ok;
        if (where != nullptr) {
          *where = at(n);
        }
      }
    };
    text("desc", &def.desc);
    text("condition", &def.condition, &def.condition_where);
    text("output", &def.output, &def.output_where);
    text("priority", &def.priority);
    text("source", &def.source);
    if (const YAML::Node n = item["tags"]) {
      ok = strings(n, "tags", &def.tags) && ok;
    }
    if (const YAML::Node n = item["enabled"]) {
      ok = boolean(n, "enabled", &def.enabled) && ok;
    }
    if (const YAML::Node n = item["skip-if-unknown-filter"]) {
      ok = boolean(n, "skip-if-unknown-filter", &def.skip_if_unknown_filter) && ok;
    }
    if (const YAML::Node n = item["exceptions"]) {
      ok = exceptions(n, name, &def.exceptions) && ok;
    }
    if (!ok) {
      return;
    }
    if (!def.priority.empty() && priority_rank(def.priority) < 0) {
      diags_->error(at(item["priority"]), what + ": unknown priority '" + def.priority + "'");
      return;
    }
    auto it = std::find_if(set_->rules.begin(), set_->rules.end(),
                           [&](const RuleDef& r) { return r.name == name; });
    const bool only_enabled =
        item["enabled"] && !item["condition"] && !item["output"] && !item["append"] &&
        !item["override"] && !item["desc"] && !item["priority"] && !item["exceptions"];
    if (append || !override.empty() || only_enabled) {
      if (it == set_->rules.end()) {
        diags_->error(at(item), what + " is appended to, overridden or enabled but was not "
                                       "defined before");
        return;
      }
      RuleDef& r = *it;
      auto extend = [&](const char* key) {
        return append || (override.count(key) && override[key]);
      };
      auto given = [&](const char* key) { return append ? bool(item[key]) : override.count(key) > 0; };
      if (given("condition")) {
        r.condition = extend("condition") ? r.condition + " " + def.condition : def.condition;
      }
      if (given("output")) {
        r.output = extend("output") ? r.output + " " + def.output : def.output;
      }
      if (given("desc")) {
        r.desc = extend("desc") ? r.desc + " " + def.desc : def.desc;
      }
      if (given("priority")) {
        r.priority = def.priority;
      }
      if (given("tags")) {
        if (extend("tags")) {
          for (auto& t : def.tags) {
            if (std::find(r.tags.begin(), r.tags.end(), t) == r.tags.end()) {
              r.tags.push_back(t);
            }
          }
        } else {
          r.tags = def.tags;
        }
      }
      if (given("exceptions")) {
        if (extend("exceptions")) {
          merge_exceptions(&r.exceptions, std::move(def.exceptions));
        } else {
          r.exceptions = std::move(def.exceptions);
        }
      }
      if (item["enabled"]) {
        r.enabled = def.enabled;
      }
      return;
    }
    for (const char* key : {"condition", "output", "desc", "priority"}) {
      if (!item[key]) {
        diags_->error(at(item), what + " has no '" + key + "'");
        ok = false;
      }
    }
    if (!ok) {
      return;
    }
    if (it != set_->rules.end()) {
      *it = std::move(def);
    } else {
      set_->rules.push_back(std::move(def));
    }
  }

  const std::string& file_;
  RuleSet* set_;
  Diagnostics* diags_;
  std::vector<int> empty_lines_;
  std::size_t next_empty_ = 0;
};

// The 1-based numbers of the lines that are a lone top-level '-' (an empty entry).
std::vector<int> empty_entry_lines(std::string_view text) {
  std::vector<int> out;
  int line = 1;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find('\n', start);
    std::string_view l = text.substr(start, end == std::string_view::npos ? text.npos : end - start);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r')) {
      l.remove_suffix(1);
    }
    if (l == "-") {
      out.push_back(line);
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
    ++line;
  }
  return out;
}

}  // namespace

void load_rules_text(std::string_view text, const std::string& name, RuleSet* set,
                     Diagnostics* diags) {
  if (text.size() > kMaxRulesFileBytes) {
    diags->error({name, 0, 0}, "the rules file is " + std::to_string(text.size()) +
                                   " bytes, more than the limit of " +
                                   std::to_string(kMaxRulesFileBytes));
    return;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    Location where{name, 0, 0};
    if (!e.mark.is_null()) {
      where = {name, e.mark.line + 1, e.mark.column + 1};
    }
    diags->error(where, "invalid YAML: " + e.msg);
    return;
  } catch (const std::exception& e) {
    diags->error({name, 0, 0}, std::string("cannot read the rules: ") + e.what());
    return;
  }
  // Items are applied to a copy so that a file with errors changes nothing.
  RuleSet copy = *set;
  Diagnostics local;
  try {
    Loader(name, &copy, &local, empty_entry_lines(text)).load(root);
  } catch (const std::exception& e) {
    local.error({name, 0, 0}, std::string("cannot decode the rules: ") + e.what());
  }
  if (!local.has_errors()) {
    *set = std::move(copy);
  }
  diags->items.insert(diags->items.end(), local.items.begin(), local.items.end());
}

void load_rules_file(const std::string& path, RuleSet* set, Diagnostics* diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags->error({path, 0, 0}, "cannot open the rules file");
    return;
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxRulesFileBytes) {
      diags->error({path, 0, 0}, "the rules file is larger than the limit of " +
                                     std::to_string(kMaxRulesFileBytes) + " bytes");
      return;
    }
  }
  if (in.bad()) {
    diags->error({path, 0, 0}, "cannot read the rules file");
    return;
  }
  load_rules_text(text, path, set, diags);
}

}  // namespace ktrail::detect
