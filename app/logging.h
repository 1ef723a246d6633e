// Logging of the long-running commands: spdlog to stderr (stdout is for command output).
//
// Two formats: `text` (a time, the level and the message, for people) and `json` (one object
// a line, {"time","level","logger","msg"}, for log shippers). Messages never carry secret
// values: callers log names, counts and reasons, not tokens or request bodies.
#pragma once

#include <string>

#include "core/status.h"

namespace ktrail::app {

// `level`: trace, debug, info, warn, error, critical or off; `format`: text or json.
Status init_logging(const std::string& level, const std::string& format = "text");

}  // namespace ktrail::app
