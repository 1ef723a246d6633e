#include "app/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace ktrail::app {

Status init_logging(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return invalid_argument("unknown log level '" + level + "'");
  }
  auto logger = spdlog::get("ktrail");
  if (!logger) {
    logger = spdlog::stderr_logger_mt("ktrail");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  return Status::ok();
}

}  // namespace ktrail::app
