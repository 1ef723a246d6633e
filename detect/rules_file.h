// Reading Falco rules files (YAML) into definitions: lists, macros and rules, with Falco's
// rules for combining several files (later definitions replace earlier ones; `append: true` and
// `override:` extend or replace parts of an earlier one; `enabled:` alone toggles a rule).
// Nothing is compiled here (detect/engine.h does that once all files are read).
//
// Accepted top-level items: rule, macro, list, required_engine_version,
// required_plugin_versions. Unknown items or keys are errors with file:line:column; an empty
// `-` entry is skipped with a warning, as Falco skips it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "detect/diagnostics.h"

namespace ktrail::detect {

// Falco's engine version that ktrail's rule language corresponds to: files requiring a newer
// one are refused.
constexpr int kEngineVersionMinor = 31;

// Files larger than this are refused before they are parsed.
constexpr std::size_t kMaxRulesFileBytes = 16 * 1024 * 1024;

struct ListDef {
  std::string name;
  std::vector<std::string> items;
  Location where;
};

struct MacroDef {
  std::string name;
  std::string condition;
  Location where;  // of the condition text
};

// One exception of a rule: `fields` compared with `comps` against each entry of `values`.
struct ExceptionValue {
  std::string text;
  std::vector<std::string> list;
  bool is_list = false;
};
struct ExceptionDef {
  std::string name;
  std::vector<std::string> fields;
  bool fields_is_list = false;
  std::vector<std::string> comps;
  // One entry per exception value: a tuple (one per field) or, for a single field, one item.
  std::vector<std::vector<ExceptionValue>> values;
  Location where;
};

struct RuleDef {
  std::string name;
  std::string desc;
  std::string condition;
  std::string output;
  std::string priority;
  std::string source = "syscall";
  std::vector<std::string> tags;
  bool enabled = true;
  bool skip_if_unknown_filter = false;
  std::vector<ExceptionDef> exceptions;
  Location where;            // of the `rule:` item
  Location condition_where;  // of the condition text
  Location output_where;
};

struct RuleSet {
  std::vector<ListDef> lists;  // in definition order; a redefinition replaces in place
  std::vector<MacroDef> macros;
  std::vector<RuleDef> rules;
};

// Adds the items of one file to `set`. `name` is what locations call the file.
void load_rules_text(std::string_view text, const std::string& name, RuleSet* set,
                     Diagnostics* diags);
void load_rules_file(const std::string& path, RuleSet* set, Diagnostics* diags);

}  // namespace ktrail::detect
