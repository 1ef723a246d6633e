#include "processors/correlate/workload.h"

namespace ktrail::correlate {
namespace {

// The alphabet of k8s.io/apimachinery's rand.SafeEncodeString (no vowels, no 0/1/3).
constexpr std::string_view kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";

bool all_digits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

bool is_generated_suffix(std::string_view text, std::size_t min_len, std::size_t max_len) {
  if (text.size() < min_len || text.size() > max_len) {
    return false;
  }
  return text.find_first_not_of(kSafeAlphabet) == std::string_view::npos;
}

Workload workload_from_owner(std::string_view kind, std::string_view name) {
  if (kind == "ReplicaSet") {
    auto dash = name.rfind('-');
    if (dash != std::string_view::npos && dash > 0 &&
        is_generated_suffix(name.substr(dash + 1), 6, 10)) {
      return {"Deployment", std::string(name.substr(0, dash))};
    }
  }
  return {std::string(kind), std::string(name)};
}

Workload workload_from_pod_name(std::string_view pod) {
  auto dash = pod.rfind('-');
  if (dash == std::string_view::npos || dash == 0) {
    return {"Pod", std::string(pod)};
  }
  std::string_view prefix = pod.substr(0, dash);
  std::string_view suffix = pod.substr(dash + 1);
  if (is_generated_suffix(suffix, 5, 5)) {
    auto dash2 = prefix.rfind('-');
    if (dash2 != std::string_view::npos && dash2 > 0 &&
        is_generated_suffix(prefix.substr(dash2 + 1), 6, 10)) {
      return {"Deployment", std::string(prefix.substr(0, dash2))};
    }
    return {"", std::string(prefix)};  // ReplicaSet, DaemonSet or Job: the name says no more
  }
  if (all_digits(suffix)) {
    return {"StatefulSet", std::string(prefix)};
  }
  return {"Pod", std::string(pod)};
}

}  // namespace ktrail::correlate
