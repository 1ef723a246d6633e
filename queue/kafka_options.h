// Options shared by ktrail's Kafka producer and consumer (the --kafka-* flags of `ktrail serve`).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace ktrail::kafka {

// Message headers. Audit events and Kubernetes Events travel keyed and without headers; an item
// the ingest decoder rejected travels without a key, marked kind=rejected, with the reason.
inline constexpr const char* kKindHeader = "ktrail-kind";
inline constexpr const char* kKindRejected = "rejected";
inline constexpr const char* kReasonHeader = "ktrail-reason";

struct KafkaOptions {
  std::string brokers;                  // bootstrap.servers, e.g. "127.0.0.1:9092"
  std::string topic_prefix = "ktrail";  // topics <prefix>.audit and <prefix>.events
  int partitions = 6;                   // used when ktrail creates the topics
  int replication_factor = -1;          // -1: the broker's default
  std::string client_id = "ktrail";
  // Extra librdkafka settings, applied last (tests shorten timeouts with these).
  std::map<std::string, std::string> extra;

  std::string audit_topic() const { return topic_prefix + ".audit"; }
  std::string events_topic() const { return topic_prefix + ".events"; }
};

}  // namespace ktrail::kafka
