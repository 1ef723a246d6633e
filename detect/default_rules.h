// ktrail's built-in detection rules (detect/rules/default.yaml, compiled into the binary).
#pragma once

#include <string_view>

namespace ktrail::detect {

// The text of detect/rules/default.yaml.
std::string_view default_rules_text();
// The name locations use for it.
inline constexpr const char* kDefaultRulesName = "<built-in>/default.yaml";

}  // namespace ktrail::detect
