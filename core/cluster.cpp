#include "core/cluster.h"

#include <cctype>
#include <cstdio>

namespace ktrail {

bool valid_cluster_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxClusterNameBytes) {
    return false;
  }
  if (!std::isalnum(static_cast<unsigned char>(name.front()))) {
    return false;
  }
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || !(std::isalnum(u) || c == '.' || c == '_' || c == ':' || c == '-')) {
      return false;
    }
  }
  return true;
}

Status check_cluster_name(std::string_view name, std::string_view what) {
  if (valid_cluster_name(name)) {
    return Status::ok();
  }
  if (name.empty()) {
    return invalid_argument(std::string(what) + " is empty");
  }
  std::string shown;
  for (const char c : name.substr(0, kMaxClusterNameBytes)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      shown += hex;
    } else {
      shown += c;
    }
  }
  if (name.size() > kMaxClusterNameBytes) {
    shown += "...";
  }
  return invalid_argument(std::string(what) + " \"" + shown +
                          "\" is not a cluster name (1 to 63 of A-Z a-z 0-9 . _ : -, starting "
                          "with a letter or digit)");
}

}  // namespace ktrail
