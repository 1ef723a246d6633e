#include "core/finding.h"

#include <array>
#include <cctype>

namespace ktrail {
namespace {

constexpr std::array<const char*, 8> kNames = {"EMERGENCY", "ALERT",  "CRITICAL",      "ERROR",
                                               "WARNING",   "NOTICE", "INFORMATIONAL", "DEBUG"};

bool equal_fold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

int priority_rank(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (equal_fold(name, kNames[i])) {
      return static_cast<int>(i);
    }
  }
  if (equal_fold(name, "INFO")) {
    return 6;
  }
  return -1;
}

const char* priority_name(int rank) {
  if (rank < 0 || rank >= static_cast<int>(kNames.size())) {
    return "";
  }
  return kNames[static_cast<std::size_t>(rank)];
}

}  // namespace ktrail
