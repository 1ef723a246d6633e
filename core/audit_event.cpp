#include "core/audit_event.h"

namespace ktrail {

const char* to_string(Stage stage) {
  switch (stage) {
    case Stage::kRequestReceived:
      return "RequestReceived";
    case Stage::kResponseStarted:
      return "ResponseStarted";
    case Stage::kResponseComplete:
      return "ResponseComplete";
    case Stage::kPanic:
      return "Panic";
  }
  return "";
}

const char* to_string(Level level) {
  switch (level) {
    case Level::kNone:
      return "None";
    case Level::kMetadata:
      return "Metadata";
    case Level::kRequest:
      return "Request";
    case Level::kRequestResponse:
      return "RequestResponse";
  }
  return "";
}

std::optional<Stage> parse_stage(std::string_view text) {
  if (text == "RequestReceived") {
    return Stage::kRequestReceived;
  }
  if (text == "ResponseStarted") {
    return Stage::kResponseStarted;
  }
  if (text == "ResponseComplete") {
    return Stage::kResponseComplete;
  }
  if (text == "Panic") {
    return Stage::kPanic;
  }
  return std::nullopt;
}

Level parse_level(std::string_view text, bool* known) {
  Level level = Level::kNone;
  bool ok = true;
  if (text == "None") {
    level = Level::kNone;
  } else if (text == "Metadata") {
    level = Level::kMetadata;
  } else if (text == "Request") {
    level = Level::kRequest;
  } else if (text == "RequestResponse") {
    level = Level::kRequestResponse;
  } else {
    ok = false;
  }
  if (known != nullptr) {
    *known = ok;
  }
  return level;
}

}  // namespace ktrail
