#include "app/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "core/time.h"

namespace ktrail::app {
namespace {

void append_json_string(std::string_view text, spdlog::memory_buf_t& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out.append(escaped, escaped + sizeof escaped);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// One JSON object a line. Bytes that are not valid UTF-8 pass through as they are; log
// messages are built from ktrail's own text and validated input.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& out) override {
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
    out.append(std::string_view("{\"time\":"));
    append_json_string(format_rfc3339(micros), out);
    out.append(std::string_view(",\"level\":"));
    const auto level = spdlog::level::to_string_view(msg.level);
    append_json_string(std::string_view(level.data(), level.size()), out);
    out.append(std::string_view(",\"logger\":"));
    append_json_string(std::string_view(msg.logger_name.data(), msg.logger_name.size()), out);
    out.append(std::string_view(",\"msg\":"));
    append_json_string(std::string_view(msg.payload.data(), msg.payload.size()), out);
    out.append(std::string_view("}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Status init_logging(const std::string& level, const std::string& format) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return invalid_argument("unknown log level '" + level + "'");
  }
  if (format != "text" && format != "json") {
    return invalid_argument("--log-format must be text or json, not '" + format + "'");
  }
  auto logger = spdlog::get("ktrail");
  if (!logger) {
    logger = spdlog::stderr_logger_mt("ktrail");
  }
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>());
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  return Status::ok();
}

}  // namespace ktrail::app
