#include "core/incident.h"

#include <array>
#include <cstdio>
#include <string_view>

namespace ktrail {
namespace {

constexpr std::array<std::pair<IncidentKind, const char*>, 5> kKindNames{{
    {IncidentKind::kNodeNotReady, "node-not-ready"},
    {IncidentKind::kRestartStorm, "restart-storm"},
    {IncidentKind::kNodeDrain, "node-drain"},
    {IncidentKind::kImagePullFailure, "image-pull-failure"},
    {IncidentKind::kSchedulingFailure, "scheduling-failure"},
}};

// FNV-1a: small, stable across platforms and releases, which is all an ID needs.
std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

const char* to_string(IncidentKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) {
      return name;
    }
  }
  return "unknown";
}

std::optional<IncidentKind> parse_incident_kind(std::string_view text) {
  for (const auto& [k, name] : kKindNames) {
    if (text == name) {
      return k;
    }
  }
  return std::nullopt;
}

const char* to_string(MemberSource source) {
  return source == MemberSource::kAudit ? "audit" : "event";
}

std::string make_incident_id(IncidentKind kind, const std::string& key, Micros start,
                             std::string_view cluster) {
  std::uint64_t h = fnv1a(to_string(kind));
  if (cluster != "default") {
    h = fnv1a("\ncluster ", h);
    h = fnv1a(cluster, h);
  }
  h = fnv1a("\n", h);
  h = fnv1a(key, h);
  h = fnv1a("\n" + std::to_string(start), h);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string(to_string(kind)) + "-" + hex;
}

}  // namespace ktrail
