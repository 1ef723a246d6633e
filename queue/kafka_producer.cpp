#include "queue/kafka_producer.h"

#include <spdlog/spdlog.h>

#include "queue/kafka_admin.h"
#include "queue/kafka_keys.h"

namespace ktrail::kafka {

using Clock = std::chrono::steady_clock;

// One accepted batch in flight. `remaining` counts undelivered messages plus one guard that
// submit() releases after the last produce() call, so reports arriving while submit() is still
// enqueueing cannot complete the batch early.
struct KafkaProducer::Pending {
  std::atomic<std::size_t> remaining{1};
  std::atomic<bool> failed{false};
  std::atomic<bool> finished{false};
  std::atomic<int> first_error{RD_KAFKA_RESP_ERR_NO_ERROR};
  Clock::time_point deadline;
  BatchDone done;
  BatchOutcome outcome;
  // The batch itself: librdkafka sends the message values from its strings without copying
  // them, and every message holds this Pending until its delivery report.
  Batch batch;

  // Runs `done` at most once, whoever gets here first (report, deadline, shutdown).
  void finish(const Status& status) {
    if (!finished.exchange(true) && done) {
      done(status, outcome);
    }
  }
  void finish_from_reports() {
    if (failed.load()) {
      finish(unavailable(std::string("kafka delivery failed: ") +
                         rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(first_error.load()))));
    } else {
      finish(Status::ok());
    }
  }
  void release_one() {
    if (remaining.fetch_sub(1) == 1) {
      finish_from_reports();
    }
  }
};

namespace {

Metric& gauge(const char* name, const char* help) {
  return MetricsRegistry::global().get(name, MetricType::kGauge, help);
}
Metric& counter(const char* name, const char* help) {
  return MetricsRegistry::global().get(name, MetricType::kCounter, help);
}

}  // namespace

KafkaProducer::KafkaProducer(ProducerOptions options)
    : options_(std::move(options)),
      queue_depth_(gauge("ktrail_kafka_producer_queue_messages",
                         "Messages in the producer's queue, waiting for delivery.")),
      delivered_(counter("ktrail_kafka_delivered_total", "Messages delivered to Kafka.")),
      delivery_errors_(counter("ktrail_kafka_delivery_errors_total",
                               "Messages whose delivery to Kafka failed.")),
      ack_timeouts_(counter("ktrail_kafka_ack_timeouts_total",
                            "Batches answered 503 because delivery did not finish in time.")),
      broker_up_gauge_(gauge("ktrail_kafka_broker_up", "1 when the Kafka cluster answers.")) {}

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::create(ProducerOptions options) {
  if (options.kafka.brokers.empty()) {
    return invalid_argument("kafka: no brokers given");
  }
  if (options.ack_timeout.count() <= 0) {
    return invalid_argument("kafka: --ack-timeout must be positive");
  }
  std::unique_ptr<KafkaProducer> producer(new KafkaProducer(std::move(options)));
  KTRAIL_RETURN_IF_ERROR(producer->start());
  return producer;
}

Status KafkaProducer::start() {
  if (options_.create_topics) {
    const Status created = ensure_topics(options_.kafka, options_.ack_timeout);
    if (!created.is_ok()) {
      // The broker may come later; producing then fails per batch and ready() stays false.
      spdlog::warn("kafka: topics not verified: {}", created.to_string());
      if (created.code() == ErrorCode::kInvalidArgument) {
        return created;
      }
    }
  }
  std::map<std::string, std::string> settings = {
      {"bootstrap.servers", options_.kafka.brokers},
      {"client.id", options_.kafka.client_id},
      {"enable.idempotence", "true"},  // implies acks=all, ordered retries without duplicates
      {"acks", "all"},
      {"compression.type", options_.compression},
      // Pinned rather than left to the library default: the process role computes the same
      // choice to find the stored items of a partition (queue/kafka_keys.h).
      {"partitioner", kPartitioner},
      {"linger.ms", std::to_string(options_.linger.count())},
      {"batch.num.messages", "10000"},
      {"batch.size", "1048576"},
      {"queue.buffering.max.messages", std::to_string(options_.max_queued_messages)},
      {"queue.buffering.max.kbytes", "1048576"},
      // librdkafka gives up on a message when the webhook has stopped waiting for it.
      {"message.timeout.ms", std::to_string(options_.ack_timeout.count())},
  };
  for (const auto& [k, v] : options_.kafka.extra) {
    if (k == "partitioner" && v != kPartitioner) {
      return invalid_argument(std::string("kafka: partitioner must stay ") + kPartitioner +
                              ": the process role relies on it to rebuild a partition's state");
    }
    settings[k] = v;
  }
  auto conf = make_conf(settings);
  if (!conf) {
    return conf.status();
  }
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaProducer::on_delivery);
  rd_kafka_conf_set_error_cb(conf->get(), &KafkaProducer::on_error);
  rd_kafka_conf_set_opaque(conf->get(), this);
  auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!rk) {
    return rk.status();
  }
  rk_ = std::move(*rk);
  audit_topic_ = rd_kafka_topic_new(rk_.get(), options_.kafka.audit_topic().c_str(), nullptr);
  events_topic_ = rd_kafka_topic_new(rk_.get(), options_.kafka.events_topic().c_str(), nullptr);
  if (audit_topic_ == nullptr || events_topic_ == nullptr) {
    return internal_error("kafka: cannot create topic handles");
  }
  probe_once();  // so that ready() is right from the start
  poll_thread_ = std::thread([this] { poll_loop(); });
  probe_thread_ = std::thread([this] { probe_loop(); });
  return Status::ok();
}

KafkaProducer::~KafkaProducer() {
  shutdown(std::chrono::seconds(5));
  if (audit_topic_ != nullptr) {
    rd_kafka_topic_destroy(audit_topic_);
  }
  if (events_topic_ != nullptr) {
    rd_kafka_topic_destroy(events_topic_);
  }
}

void KafkaProducer::shutdown(std::chrono::milliseconds deadline) {
  if (closing_.exchange(true)) {
    return;
  }
  {
    std::lock_guard lock(stop_mutex_);
    stop_cv_.notify_all();
  }
  if (probe_thread_.joinable()) {
    probe_thread_.join();
  }
  if (poll_thread_.joinable()) {
    poll_thread_.join();
  }
  if (rk_) {
    // flush() serves the delivery reports itself, so batches still finish normally here.
    const rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), static_cast<int>(deadline.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka: {} messages undelivered at shutdown", rd_kafka_outq_len(rk_.get()));
    }
  }
  sweep_deadlines(/*fail_all=*/true);
}

bool KafkaProducer::ready() const { return !closing_ && !fatal_ && broker_up_; }

int KafkaProducer::queue_depth() const { return rk_ ? rd_kafka_outq_len(rk_.get()) : 0; }

SubmitResult KafkaProducer::submit(Batch batch, BatchDone done) {
  if (closing_ || fatal_ || !broker_up_) {
    return SubmitResult::kUnavailable;
  }
  auto pending = std::make_shared<Pending>();
  pending->deadline = Clock::now() + options_.ack_timeout;
  pending->done = std::move(done);
  pending->outcome.stored = batch.audit.size() + batch.events.size();
  pending->outcome.rejected = batch.rejected.size();
  pending->remaining = batch.audit.size() + batch.events.size() + batch.rejected.size() + 1;

  // Values point into pending->batch (no RD_KAFKA_MSG_F_COPY: no copy of each event); keys and
  // headers are copied by librdkafka. Events carry no header (nothing to allocate and parse per
  // message); only rejected items are marked, and they alone have no key.
  pending->batch = std::move(batch);
  auto produce = [&](rd_kafka_topic_t* topic, const std::string& key, const std::string& value,
                     const std::string* reason) -> rd_kafka_resp_err_t {
    auto* opaque = new std::shared_ptr<Pending>(pending);
    rd_kafka_resp_err_t err;
    if (reason != nullptr) {
      err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(0),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_HEADER(kKindHeader, kKindRejected, -1),
          RD_KAFKA_V_HEADER(kReasonHeader, reason->data(), static_cast<ssize_t>(reason->size())),
          RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    } else {
      err = rd_kafka_producev(rk_.get(), RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(0),
                              RD_KAFKA_V_KEY(key.data(), key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      delete opaque;
    }
    return err;
  };

  const Batch& b = pending->batch;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (const AuditEvent& e : b.audit) {
    if ((err = produce(audit_topic_, partition_key(e), e.json, nullptr))) break;
  }
  for (std::size_t i = 0; !err && i < b.events.size(); ++i) {
    const KubeEvent& e = b.events[i];
    err = produce(events_topic_, partition_key(e), e.json, nullptr);
  }
  for (std::size_t i = 0; !err && i < b.rejected.size(); ++i) {
    const RejectedItem& r = b.rejected[i];
    err = produce(audit_topic_, std::string(), r.raw, &r.reason);
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Refused: `done` must never run. What was already enqueued may still be delivered; the
    // client's retry then duplicates it and the store absorbs that.
    pending->finished = true;
    return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? SubmitResult::kFull : SubmitResult::kUnavailable;
  }
  // The poll thread releases the guard, so `done` never runs on the submitting thread.
  std::lock_guard lock(pending_mutex_);
  incoming_.push_back(std::move(pending));
  return SubmitResult::kAccepted;
}

void KafkaProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  auto* holder = static_cast<std::shared_ptr<Pending>*>(msg->_private);
  if (holder == nullptr) {
    return;
  }
  std::shared_ptr<Pending> pending = std::move(*holder);
  delete holder;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivery_errors_.add();
    int expected = RD_KAFKA_RESP_ERR_NO_ERROR;
    pending->first_error.compare_exchange_strong(expected, msg->err);
    pending->failed = true;
  } else {
    self->delivered_.add();
  }
  pending->release_one();
}

void KafkaProducer::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof buf);
    spdlog::error("kafka producer: fatal error: {}", buf);
    self->fatal_ = true;
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    self->broker_up_ = false;
    self->broker_up_gauge_.set(0);
  }
  spdlog::warn("kafka producer: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
               reason);
}

void KafkaProducer::sweep_deadlines(bool fail_all) {
  const Clock::time_point now = Clock::now();
  std::vector<std::shared_ptr<Pending>> expired;
  std::vector<std::shared_ptr<Pending>> incoming;
  {
    std::lock_guard lock(pending_mutex_);
    incoming.swap(incoming_);
    pending_.insert(pending_.end(), incoming.begin(), incoming.end());
  }
  for (const auto& p : incoming) {
    p->release_one();  // the guard; may finish the batch here, on this thread
  }
  {
    std::lock_guard lock(pending_mutex_);
    while (!pending_.empty()) {
      const auto& front = pending_.front();
      if (front->finished) {
        pending_.pop_front();
      } else if (fail_all || front->deadline <= now) {
        expired.push_back(front);
        pending_.pop_front();
      } else {
        break;  // deadlines grow along the deque
      }
    }
  }
  for (const auto& p : expired) {
    if (!p->finished) {
      ack_timeouts_.add();
      p->finish(unavailable(fail_all ? "kafka producer shutting down"
                                     : "kafka delivery not confirmed within --ack-timeout"));
    }
  }
}

void KafkaProducer::poll_loop() {
  while (!closing_) {
    rd_kafka_poll(rk_.get(), 50);
    sweep_deadlines(/*fail_all=*/false);
    queue_depth_.set(rd_kafka_outq_len(rk_.get()));
  }
}

bool KafkaProducer::probe_once() {
  // A metadata request for our topic is the readiness signal: it needs a reachable broker
  // that knows the topic.
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(
      rk_.get(), 0, audit_topic_, &md,
      static_cast<int>(std::max<std::int64_t>(options_.probe_interval.count(), 500)));
  MetadataPtr owned(md);
  const bool up = err == RD_KAFKA_RESP_ERR_NO_ERROR && md != nullptr && md->topic_cnt == 1 &&
                  md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (up != broker_up_.exchange(up)) {
    spdlog::info("kafka producer: brokers {}", up ? "reachable" : "unreachable");
  }
  broker_up_gauge_.set(up ? 1 : 0);
  return up;
}

void KafkaProducer::probe_loop() {
  std::unique_lock lock(stop_mutex_);
  while (!closing_) {
    lock.unlock();
    probe_once();
    lock.lock();
    stop_cv_.wait_for(lock, options_.probe_interval, [this] { return closing_.load(); });
  }
}

}  // namespace ktrail::kafka
