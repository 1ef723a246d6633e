// The ingest role's BatchSink: every audit event and Kubernetes Event of a batch becomes one
// Kafka message (value: the event's compact JSON, key: queue/kafka_keys.h), produced with
// idempotence and acks=all. The batch's `done` runs when the delivery reports of all its
// messages have arrived:
//  - all delivered            -> done(ok); the webhook answers 200.
//  - any delivery failed, or
//    --ack-timeout passed     -> done(unavailable); the webhook answers 503 with Retry-After and
//                                kube-apiserver sends the batch again. Messages of a failed
//                                batch may still be in Kafka: the retry duplicates them, and the
//                                process role's idempotent store absorbs the duplicates.
// submit() refuses (never calls done) with kFull when librdkafka's local queue is full and with
// kUnavailable when the broker is known to be unreachable, after a fatal error, or at shutdown.
//
// submit() keeps the batch until the last delivery report: librdkafka sends the values from
// its strings without copying them.
//
// Items the decoder rejected travel on the audit topic with the header ktrail-kind=rejected
// and the reason in ktrail-reason, so the process role dead-letters them in its store.
//
// Threads: submit() and ready() from any thread; one internal thread serves delivery reports
// (done runs there) and the ack deadlines, another probes the broker for ready().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/batch_sink.h"
#include "core/metrics.h"
#include "queue/kafka_handles.h"
#include "queue/kafka_options.h"

namespace ktrail::kafka {

struct ProducerOptions {
  KafkaOptions kafka;
  std::chrono::milliseconds ack_timeout{10'000};
  std::string compression = "lz4";  // lz4 costs the least CPU per byte saved; zstd saves more
  std::chrono::milliseconds linger{5};
  int max_queued_messages = 500'000;  // librdkafka's local queue, the bound on buffering
  std::chrono::milliseconds probe_interval{1'000};
  bool create_topics = true;
};

class KafkaProducer final : public BatchSink {
 public:
  // Connects, creates the topics when asked, and starts the threads. Fails when the options
  // are invalid; an unreachable broker is not an error here (ready() says so).
  static Result<std::unique_ptr<KafkaProducer>> create(ProducerOptions options);
  ~KafkaProducer() override;
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  SubmitResult submit(Batch batch, BatchDone done) override;
  bool ready() const override;

  // Stops accepting, waits up to `deadline` for outstanding deliveries, and fails the batches
  // still pending (done(unavailable)). Called by the destructor if not before.
  void shutdown(std::chrono::milliseconds deadline);

  // Messages in librdkafka's queue (waiting to be sent or for their report).
  int queue_depth() const;

  struct Pending;

 private:
  explicit KafkaProducer(ProducerOptions options);
  Status start();
  void poll_loop();
  void probe_loop();
  bool probe_once();
  void sweep_deadlines(bool fail_all);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  ProducerOptions options_;
  HandlePtr rk_;
  rd_kafka_topic_t* audit_topic_ = nullptr;  // owned by rk_'s lifetime; destroyed before it
  rd_kafka_topic_t* events_topic_ = nullptr;

  std::atomic<bool> closing_{false};
  std::atomic<bool> broker_up_{false};
  std::atomic<bool> fatal_{false};

  std::mutex pending_mutex_;
  std::vector<std::shared_ptr<Pending>> incoming_;  // accepted, guard not yet released
  std::deque<std::shared_ptr<Pending>> pending_;    // in submit order = deadline order

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  std::thread poll_thread_;
  std::thread probe_thread_;

  Metric& queue_depth_;
  Metric& delivered_;
  Metric& delivery_errors_;
  Metric& ack_timeouts_;
  Metric& broker_up_gauge_;
};

}  // namespace ktrail::kafka
