#include "processors/correlate/rules.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace ktrail::correlate {
namespace {

std::string where(std::string_view origin, const YAML::Node& node) {
  return std::string(origin) + ":" + std::to_string(node.Mark().line + 1);
}

Status read_duration(std::string_view origin, const std::string& key, const YAML::Node& node,
                     Micros* out) {
  if (!node.IsScalar()) {
    return invalid_argument(where(origin, node) + ": '" + key + "' must be a duration");
  }
  const std::string text = node.Scalar();
  Micros value = 0;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 9) {
      return invalid_argument(where(origin, node) + ": '" + key + "' is too large");
    }
    value = std::stoll(text) * kMicrosPerSecond;
  } else {
    auto parsed = parse_duration(text);
    if (!parsed) {
      return invalid_argument(where(origin, node) + ": '" + key +
                              "': " + parsed.status().message());
    }
    value = *parsed;
  }
  if (value < 0 || value > 366LL * 24 * 3600 * kMicrosPerSecond) {
    return invalid_argument(where(origin, node) + ": '" + key + "' is out of range (0..366d)");
  }
  *out = value;
  return Status::ok();
}

Status read_count(std::string_view origin, const std::string& key, const YAML::Node& node,
                  std::int64_t* out) {
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 9) {
    return invalid_argument(where(origin, node) + ": '" + key + "' must be a positive integer");
  }
  std::int64_t value = std::stoll(text);
  if (value < 1) {
    return invalid_argument(where(origin, node) + ": '" + key + "' must be at least 1");
  }
  *out = value;
  return Status::ok();
}

Status read_bool(std::string_view origin, const std::string& key, const YAML::Node& node,
                 bool* out) {
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  if (text == "true") {
    *out = true;
  } else if (text == "false") {
    *out = false;
  } else {
    return invalid_argument(where(origin, node) + ": '" + key + "' must be true or false");
  }
  return Status::ok();
}

using Field = std::function<Status(const std::string&, const YAML::Node&)>;

// Applies each key of a mapping through its handler; unknown keys are errors.
Status apply_map(std::string_view origin, const std::string& section, const YAML::Node& node,
                 const std::map<std::string, Field>& fields) {
  if (!node.IsMap()) {
    return invalid_argument(where(origin, node) + ": '" + section + "' must be a mapping");
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    auto it = fields.find(key);
    if (it == fields.end()) {
      return invalid_argument(where(origin, entry.first) + ": unknown key '" + key + "' in " +
                              section);
    }
    KTRAIL_RETURN_IF_ERROR(it->second(key, entry.second));
  }
  return Status::ok();
}

}  // namespace

Result<Rules> parse_rules(std::string_view yaml, std::string_view origin) {
  Rules rules;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return parse_error(std::string(origin) + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) {
    return rules;
  }
  auto o = origin;
  auto dur = [o](Micros* out) {
    return
        [o, out](const std::string& k, const YAML::Node& n) { return read_duration(o, k, n, out); };
  };
  auto cnt = [o](std::int64_t* out) {
    return [o, out](const std::string& k, const YAML::Node& n) { return read_count(o, k, n, out); };
  };
  auto flag = [o](bool* out) {
    return [o, out](const std::string& k, const YAML::Node& n) { return read_bool(o, k, n, out); };
  };
  auto section = [o](const std::string& name, std::map<std::string, Field> fields) {
    return [o, name, fields](const std::string&, const YAML::Node& n) {
      return apply_map(o, name, n, fields);
    };
  };
  std::map<std::string, Field> top{
      {"reorderWindow", dur(&rules.reorder_window)},
      {"maxBuffered", cnt(&rules.max_buffered)},
      {"maxBufferedBytes", cnt(&rules.max_buffered_bytes)},
      {"maxTimeJump", dur(&rules.max_time_jump)},
      {"nodeNotReady", section("nodeNotReady", {{"enabled", flag(&rules.node_not_ready.enabled)},
                                                {"replacementWindow",
                                                 dur(&rules.node_not_ready.replacement_window)}})},
      {"restartStorm",
       section("restartStorm", {{"enabled", flag(&rules.restart_storm.enabled)},
                                {"minRestarts", cnt(&rules.restart_storm.min_restarts)},
                                {"window", dur(&rules.restart_storm.window)},
                                {"quietPeriod", dur(&rules.restart_storm.quiet)}})},
      {"nodeDrain", section("nodeDrain", {{"enabled", flag(&rules.node_drain.enabled)}})},
      {"imagePullFailure",
       section("imagePullFailure", {{"enabled", flag(&rules.image_pull_failure.enabled)},
                                    {"minFailures", cnt(&rules.image_pull_failure.min_failures)},
                                    {"window", dur(&rules.image_pull_failure.window)},
                                    {"quietPeriod", dur(&rules.image_pull_failure.quiet)}})},
      {"schedulingFailure",
       section("schedulingFailure", {{"enabled", flag(&rules.scheduling_failure.enabled)},
                                     {"minFailures", cnt(&rules.scheduling_failure.min_failures)},
                                     {"sustainFor", dur(&rules.scheduling_failure.sustain)},
                                     {"groupWindow", dur(&rules.scheduling_failure.group_window)},
                                     {"window", dur(&rules.scheduling_failure.window)},
                                     {"quietPeriod", dur(&rules.scheduling_failure.quiet)}})},
  };
  try {
    KTRAIL_RETURN_IF_ERROR(apply_map(origin, "the rules file", root, top));
  } catch (const YAML::Exception& e) {
    return parse_error(std::string(origin) + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return rules;
}

Result<Rules> load_rules_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return not_found("cannot read rules file " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1u << 20)) {
    return invalid_argument(path + ": rules file larger than 1 MiB");
  }
  return parse_rules(text.str(), path);
}

}  // namespace ktrail::correlate
