#include "app/kafka_roles.h"

#include <spdlog/spdlog.h>

#include "core/kube_event_json.h"
#include "queue/kafka_admin.h"

namespace ktrail::app {
namespace {

// The process role takes no webhooks: it says so with 503.
class RefusingSink final : public BatchSink {
 public:
  SubmitResult submit(Batch, BatchDone) override { return SubmitResult::kUnavailable; }
  bool ready() const override { return true; }
};

Result<KubeEvent> decode_one_event(std::string_view json) {
  auto decoded = decode_kube_events(json);
  if (!decoded) {
    return decoded.status();
  }
  if (decoded->events.size() != 1) {
    return parse_error(decoded->rejected.empty() ? "expected one Event"
                                                 : decoded->rejected.front().reason);
  }
  return std::move(decoded->events.front());
}

}  // namespace

Result<KafkaRole> parse_kafka_role(const std::string& text) {
  if (text == "all") return KafkaRole::kAll;
  if (text == "ingest") return KafkaRole::kIngest;
  if (text == "process") return KafkaRole::kProcess;
  return invalid_argument("--role must be all, ingest or process, not '" + text + "'");
}

Result<std::unique_ptr<KafkaRoles>> KafkaRoles::start(KafkaRolesOptions options) {
  std::unique_ptr<KafkaRoles> roles(new KafkaRoles());
  const bool ingest = options.role != KafkaRole::kProcess;
  const bool process = options.role != KafkaRole::kIngest;
  if (options.kafka.partitions < 1) {
    return invalid_argument("--kafka-partitions must be at least 1");
  }
  if (process) {
    // The consumer subscribes to topics that must exist (auto-creation is off on the broker).
    const Status topics = kafka::ensure_topics(options.kafka, options.ack_timeout);
    if (!topics.is_ok()) {
      return topics;
    }
    if (options.store == nullptr) {
      return invalid_argument("the process role needs a store (--db)");
    }
    auto writer = KafkaStoreWriter::create(
        options.store, options.chain,
        {options.peer_dir, ShardIdentity{options.kafka.topic_prefix, options.group_id}});
    if (!writer) {
      return writer.status();
    }
    roles->writer_ = std::move(*writer);
    kafka::ConsumerOptions consumer_options;
    consumer_options.kafka = options.kafka;
    consumer_options.group_id = options.group_id;
    consumer_options.idle_after = options.idle_after;
    auto consumer =
        kafka::KafkaConsumer::create(consumer_options, roles->writer_.get(), decode_one_event);
    if (!consumer) {
      return consumer.status();
    }
    roles->consumer_ = std::move(*consumer);
    roles->consumer_thread_ = std::thread([c = roles->consumer_.get()] {
      const Status s = c->run();
      if (!s.is_ok()) {
        spdlog::error("kafka consumer stopped: {}", s.to_string());
      }
    });
  }
  if (ingest) {
    kafka::ProducerOptions producer_options;
    producer_options.kafka = options.kafka;
    producer_options.ack_timeout = options.ack_timeout;
    producer_options.create_topics = !process;  // already done above
    auto producer = kafka::KafkaProducer::create(producer_options);
    if (!producer) {
      return producer.status();
    }
    roles->producer_ = std::move(*producer);
  } else {
    roles->refusing_sink_ = std::make_unique<RefusingSink>();
  }
  return roles;
}

KafkaRoles::~KafkaRoles() { stop(std::chrono::seconds(5)); }

BatchSink* KafkaRoles::sink() {
  return producer_ ? static_cast<BatchSink*>(producer_.get()) : refusing_sink_.get();
}

bool KafkaRoles::ready() const {
  return (!producer_ || producer_->ready()) && (!consumer_ || consumer_->ready());
}

void KafkaRoles::stop(std::chrono::milliseconds deadline) {
  if (producer_) {
    producer_->shutdown(deadline);
  }
  if (consumer_thread_.joinable()) {
    consumer_->stop();
    consumer_thread_.join();
  }
}

}  // namespace ktrail::app
