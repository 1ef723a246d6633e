#include "queue/kafka_handles.h"

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

Result<HandlePtr> make_handle(rd_kafka_type_t type, ConfPtr conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr) {
    return invalid_argument(std::string("kafka client: ") + errstr);  // conf still ours
  }
  conf.release();  // owned by rk now
  return HandlePtr(rk);
}

}  // namespace ktrail::kafka
