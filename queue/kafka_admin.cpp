#include "queue/kafka_admin.h"

#include <thread>
#include <vector>

#include "queue/kafka_handles.h"

namespace ktrail::kafka {

Result<int> partition_count(rd_kafka_t* rk, const std::string& topic,
                            std::chrono::milliseconds timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rkt == nullptr) {
    return internal_error("kafka: topic handle for " + topic);
  }
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(timeout.count()));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unavailable("kafka metadata for " + topic + ": " + rd_kafka_err2str(err));
  }
  MetadataPtr owned(md);
  if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const rd_kafka_resp_err_t terr =
        md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    return not_found("kafka topic " + topic + ": " + rd_kafka_err2str(terr));
  }
  return md->topics[0].partition_cnt;
}

namespace {

// A topic just created may take a moment to show in metadata.
Result<int> wait_partition_count(rd_kafka_t* rk, const std::string& topic,
                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto count = partition_count(rk, topic, timeout);
    if (count || count.status().code() != ErrorCode::kNotFound ||
        std::chrono::steady_clock::now() >= deadline) {
      return count;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

Status ensure_topics(const KafkaOptions& options, std::chrono::milliseconds timeout) {
  std::map<std::string, std::string> settings = {{"bootstrap.servers", options.brokers},
                                                 {"client.id", options.client_id + "-admin"}};
  for (const auto& [k, v] : options.extra) {
    if (k.starts_with("test.mock") || k == "socket.timeout.ms") {
      settings[k] = v;
    }
  }
  auto conf = make_conf(settings);
  if (!conf) {
    return conf.status();
  }
  auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!rk) {
    return rk.status();
  }
  const std::vector<std::string> names = {options.audit_topic(), options.events_topic()};
  std::vector<NewTopicPtr> topics;
  std::vector<rd_kafka_NewTopic_t*> raw;
  char errstr[512];
  for (const std::string& name : names) {
    NewTopicPtr topic(rd_kafka_NewTopic_new(name.c_str(), options.partitions,
                                            options.replication_factor, errstr, sizeof errstr));
    if (!topic) {
      return invalid_argument("kafka topic " + name + ": " + errstr);
    }
    raw.push_back(topic.get());
    topics.push_back(std::move(topic));
  }
  AdminOptionsPtr admin(rd_kafka_AdminOptions_new(rk->get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_request_timeout(admin.get(), static_cast<int>(timeout.count()), errstr,
                                            sizeof errstr);
  QueuePtr queue(rd_kafka_queue_new(rk->get()));
  rd_kafka_CreateTopics(rk->get(), raw.data(), raw.size(), admin.get(), queue.get());
  EventPtr event(rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout.count()) + 1000));
  if (!event) {
    return unavailable("kafka: no answer to CreateTopics from " + options.brokers);
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unavailable(std::string("kafka CreateTopics: ") +
                       rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      return unavailable(std::string("kafka: creating ") + rd_kafka_topic_result_name(results[i]) +
                         ": " + (msg ? msg : rd_kafka_err2str(err)));
    }
  }
  // Both topics must agree: the process role pairs partition i of one with partition i of the
  // other (same key, same partition).
  auto audit = wait_partition_count(rk->get(), names[0], timeout);
  auto events = wait_partition_count(rk->get(), names[1], timeout);
  if (!audit) {
    return audit.status();
  }
  if (!events) {
    return events.status();
  }
  if (*audit != *events) {
    return invalid_argument("kafka topics " + names[0] + " and " + names[1] +
                            " have different partition counts (" + std::to_string(*audit) +
                            " and " + std::to_string(*events) + ")");
  }
  return Status::ok();
}

}  // namespace ktrail::kafka
