#include "queue/kafka_handles.h"

#include <spdlog/spdlog.h>

namespace ktrail::kafka {

Result<ConfPtr> make_conf(const std::map<std::string, std::string>& settings) {
  ConfPtr conf(rd_kafka_conf_new());
  char errstr[512];
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      return invalid_argument("kafka setting " + key + "=" + value + ": " + errstr);
    }
  }
  return conf;
}

namespace {

// librdkafka's own log lines go to ktrail's log, at the matching level (syslog levels).
void log_to_spdlog(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
  const spdlog::level::level_enum mapped = level <= 3   ? spdlog::level::err
                                           : level <= 4 ? spdlog::level::warn
                                           : level <= 6 ? spdlog::level::info
                                                        : spdlog::level::debug;
  spdlog::log(mapped, "librdkafka {} {}: {}", rd_kafka_name(rk), facility, line);
}

}  // namespace

Result<HandlePtr> make_handle(rd_kafka_type_t type, ConfPtr conf) {
  rd_kafka_conf_set_log_cb(conf.get(), &log_to_spdlog);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr) {
    return invalid_argument(std::string("kafka client: ") + errstr);  // conf still ours
  }
  conf.release();  // owned by rk now
  return HandlePtr(rk);
}

}  // namespace ktrail::kafka
