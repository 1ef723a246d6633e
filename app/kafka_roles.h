// `ktrail serve` in Kafka mode (--kafka-brokers): the ingest role (a KafkaProducer is the
// BatchSink behind the webhook), the process role (a KafkaConsumer feeding a KafkaStoreWriter
// on its own thread), or both in one process (--role all).
//
// Without --kafka-brokers none of this runs: the embedded queue stays the default.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "app/kafka_store_writer.h"
#include "core/batch_sink.h"
#include "queue/kafka_consumer.h"
#include "queue/kafka_producer.h"

namespace ktrail::app {

enum class KafkaRole { kAll, kIngest, kProcess };

Result<KafkaRole> parse_kafka_role(const std::string& text);

struct KafkaRolesOptions {
  KafkaRole role = KafkaRole::kAll;
  kafka::KafkaOptions kafka;
  std::chrono::milliseconds ack_timeout{10'000};
  std::string group_id = "ktrail-process";
  std::chrono::milliseconds idle_after{10'000};  // kafka::ConsumerOptions::idle_after
  Store* store = nullptr;  // the process role's shard (required for kAll and kProcess)
  ChainFactory chain;      // per-partition processors (policy, correlation)
  std::string peer_dir;    // other shards whose offsets a new owner honours
};

class KafkaRoles {
 public:
  static Result<std::unique_ptr<KafkaRoles>> start(KafkaRolesOptions options);
  ~KafkaRoles();

  // Where the webhook puts batches: the producer, or (process role) a sink that refuses.
  BatchSink* sink();
  // For /readyz: every role of this process can reach Kafka.
  bool ready() const;
  // Flushes the producer (up to `deadline`), then stops the consumer after its in-flight batch.
  void stop(std::chrono::milliseconds deadline);

 private:
  KafkaRoles() = default;

  std::unique_ptr<kafka::KafkaProducer> producer_;
  std::unique_ptr<KafkaStoreWriter> writer_;
  std::unique_ptr<kafka::KafkaConsumer> consumer_;
  std::unique_ptr<BatchSink> refusing_sink_;
  std::thread consumer_thread_;
};

}  // namespace ktrail::app
