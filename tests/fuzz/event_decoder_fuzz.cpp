// The Kubernetes Event decoder: whatever the bytes, it returns (events, rejected items, or an
// error) without a sanitizer report, and every event it keeps is valid JSON in UTF-8.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/json.h"
#include "core/kube_event_json.h"

namespace {

void check(const ktrail::DecodedKubeEvents& d) {
  for (const auto& e : d.events) {
    rapidjson::Document doc;
    if (!ktrail::json::valid_utf8(e.json) || !ktrail::json::parse(e.json, &doc).is_ok()) {
      std::fprintf(stderr, "a decoded Event is not valid JSON in UTF-8\n");
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto whole = ktrail::decode_kube_events(text);
  if (whole.is_ok()) {
    check(*whole);
  }
  ktrail::DecodedKubeEvents line;
  ktrail::decode_kube_event_line(text, &line);
  check(line);
  (void)ktrail::detect_stream_kind(text);
  return 0;
}
