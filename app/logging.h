// Logging of the long-running commands: spdlog to stderr (stdout is for command output).
#pragma once

#include <string>

#include "core/status.h"

namespace ktrail::app {

Status init_logging(const std::string& level);

}  // namespace ktrail::app
