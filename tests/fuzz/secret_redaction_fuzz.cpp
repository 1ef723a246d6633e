// Secret redaction (processors/secret_redaction.h): whatever the bytes, as an audit event and
// as a dead letter, redaction returns without a sanitizer report, what it keeps is valid JSON
// (or the size-and-hash summary), and redacting its output again changes nothing.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/json.h"
#include "processors/secret_redaction.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "secret redaction: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string event = text;
  auto r = ktrail::redact_audit_event_text(&event);
  if (r.is_ok() && *r) {
    std::string again = event;
    auto r2 = ktrail::redact_audit_event_text(&again);
    if (!r2.is_ok() || *r2 || again != event) fail("redacting an event twice changed it");
  }
  std::string dead = text;
  std::string reason = "fuzz";
  ktrail::redact_dead_letter(&dead, &reason);
  rapidjson::Document doc;
  if (!ktrail::json::parse(dead, &doc).is_ok()) fail("a dead letter kept is not JSON");
  std::string again = dead;
  if (ktrail::redact_dead_letter(&again, &reason) || again != dead) {
    fail("redacting a dead letter twice changed it");
  }
  return 0;
}
