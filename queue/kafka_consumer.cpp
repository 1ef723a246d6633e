#include "queue/kafka_consumer.h"

#include <spdlog/spdlog.h>

#include <iterator>
#include <thread>

#include "core/audit_json.h"
#include "queue/kafka_admin.h"
#include "queue/kafka_write_stage.h"

namespace ktrail::kafka {

using Clock = std::chrono::steady_clock;

namespace {

// The last value of header `name`, or empty; a view into the message.
std::string_view header(const rd_kafka_message_t* msg, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return {};
  }
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return {};
  }
  return std::string_view(static_cast<const char*>(value), size);
}

std::vector<std::int32_t> indexes_of(const rd_kafka_topic_partition_list_t* list) {
  std::vector<std::int32_t> out;
  for (int i = 0; i < list->cnt; ++i) {
    const std::int32_t p = list->elems[i].partition;
    if (std::find(out.begin(), out.end(), p) == out.end()) {
      out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

template <typename T>
void append(std::vector<T>& to, std::vector<T>& from) {
  if (to.empty()) {
    to.swap(from);
  } else {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  }
  from.clear();
}

}  // namespace

void append_batch(Batch& to, Batch& from) {
  append(to.audit, from.audit);
  append(to.events, from.events);
  append(to.rejected, from.rejected);
  append(to.incidents, from.incidents);
  append(to.findings, from.findings);
  append(to.tallies, from.tallies);
}

void append_partition_batch(PartitionBatch& to, PartitionBatch& from) {
  append_batch(to.batch, from.batch);
  to.offsets.insert(to.offsets.end(), from.offsets.begin(), from.offsets.end());
  for (std::int32_t p : from.partitions) {
    if (std::find(to.partitions.begin(), to.partitions.end(), p) == to.partitions.end()) {
      to.partitions.push_back(p);
    }
  }
  to.outcome += from.outcome;
}

std::string kafka_origin(std::vector<std::int32_t> partitions) {
  std::sort(partitions.begin(), partitions.end());
  partitions.erase(std::unique(partitions.begin(), partitions.end()), partitions.end());
  std::string out = partitions.size() == 1 ? "kafka partition " : "kafka partitions ";
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    out += (i ? "," : "") + std::to_string(partitions[i]);
  }
  return out;
}

KafkaConsumer::KafkaConsumer(ConsumerOptions options, BatchWriter* writer,
                             KubeEventDecoder decode_event)
    : options_(std::move(options)),
      writer_(writer),
      decode_event_(std::move(decode_event)),
      audit_topic_(options_.kafka.audit_topic()),
      events_topic_(options_.kafka.events_topic()),
      rebalances_(MetricsRegistry::global().get("ktrail_kafka_rebalances_total",
                                                MetricType::kCounter,
                                                "Consumer group rebalances seen by this member.")),
      consumed_(MetricsRegistry::global().get("ktrail_kafka_consumed_total", MetricType::kCounter,
                                              "Messages consumed from Kafka.")),
      commit_errors_(MetricsRegistry::global().get("ktrail_kafka_commit_errors_total",
                                                   MetricType::kCounter, "Failed offset commits.")),
      write_errors_(MetricsRegistry::global().get(
          "ktrail_kafka_write_errors_total", MetricType::kCounter,
          "Consumed batches whose store write failed (they are read again).")) {}

Result<std::unique_ptr<KafkaConsumer>> KafkaConsumer::create(ConsumerOptions options,
                                                             BatchWriter* writer,
                                                             KubeEventDecoder decode_event) {
  if (options.kafka.brokers.empty()) {
    return invalid_argument("kafka: no brokers given");
  }
  if (writer == nullptr || !decode_event) {
    return invalid_argument("kafka consumer: a writer and an Event decoder are required");
  }
  std::unique_ptr<KafkaConsumer> consumer(
      new KafkaConsumer(std::move(options), writer, std::move(decode_event)));
  KTRAIL_RETURN_IF_ERROR(consumer->start());
  return consumer;
}

KafkaConsumer::~KafkaConsumer() {
  if (stage_) {
    stage_->stop();  // before the handle its commits use
  }
}

std::int64_t KafkaConsumer::committed_messages() const {
  return stage_ ? stage_->committed_messages() : 0;
}

std::int64_t KafkaConsumer::groups_written() const { return stage_ ? stage_->groups_written() : 0; }

bool KafkaConsumer::commit(const std::vector<SourceOffset>& offsets) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const SourceOffset& o : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), o.topic.c_str(), o.partition)->offset =
        o.next_offset;
  }
  // Synchronous: when this returns the offsets are durable in the group coordinator.
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    commit_errors_.add();
    spdlog::warn("kafka consumer: offset commit failed: {}", rd_kafka_err2str(err));
    return false;
  }
  return true;
}

Status KafkaConsumer::start() {
  std::map<std::string, std::string> settings = {
      {"bootstrap.servers", options_.kafka.brokers},
      {"client.id", options_.kafka.client_id},
      {"group.id", options_.group_id},
      // Offsets move only when the store has committed (see the header).
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      // Range keeps partition i of both topics on one member (one correlation domain).
      {"partition.assignment.strategy", "range"},
      {"enable.partition.eof", "false"},
      {"fetch.wait.max.ms", "100"},
  };
  for (const auto& [k, v] : options_.kafka.extra) {
    settings[k] = v;
  }
  auto conf = make_conf(settings);
  if (!conf) {
    return conf.status();
  }
  rd_kafka_conf_set_rebalance_cb(conf->get(), &KafkaConsumer::rebalance_cb);
  rd_kafka_conf_set_error_cb(conf->get(), &KafkaConsumer::error_cb);
  rd_kafka_conf_set_opaque(conf->get(), this);
  auto rk = make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk) {
    return rk.status();
  }
  rk_ = std::move(*rk);
  rd_kafka_poll_set_consumer(rk_.get());
  PartitionListPtr topics(rd_kafka_topic_partition_list_new(2));
  rd_kafka_topic_partition_list_add(topics.get(), options_.kafka.audit_topic().c_str(),
                                    RD_KAFKA_PARTITION_UA);
  rd_kafka_topic_partition_list_add(topics.get(), options_.kafka.events_topic().c_str(),
                                    RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_.get(), topics.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unavailable(std::string("kafka subscribe: ") + rd_kafka_err2str(err));
  }
  stage_ = std::make_unique<WriteStage>(
      WriteStageOptions{options_.max_group_messages, options_.max_queued_messages}, writer_,
      [this](const std::vector<SourceOffset>& offsets) { return commit(offsets); });
  return Status::ok();
}

void KafkaConsumer::add_message(const rd_kafka_message_t* msg) {
  // Topic handles are per name: compare the name, not a copy of it.
  const char* name = rd_kafka_topic_name(msg->rkt);
  const int topic = events_topic_ == name ? 1 : 0;
  last_message_[msg->partition] = Clock::now();
  Pending& p = pending_[msg->partition];
  Span& span = p.spans[topic];
  if (span.first < 0) {
    span.first = msg->offset;
  }
  span.last = msg->offset;
  ++p.messages;
  ++pending_messages_;
  consumed_.add();
  if (p.batch.origin.empty()) {
    p.batch.origin = kafka_origin({msg->partition});
  }

  const std::string_view value(static_cast<const char*>(msg->payload), msg->len);
  const auto where = [&] {
    return topic_name(topic) + "/" + std::to_string(msg->partition) + "@" +
           std::to_string(msg->offset);
  };
  // Only keyless messages can be rejected items: the headers of the others are never parsed.
  if (msg->key_len == 0 && header(msg, kKindHeader) == kKindRejected) {
    p.batch.rejected.push_back({std::string(header(msg, kReasonHeader)), std::string(value)});
  } else if (topic == 1) {
    auto event = decode_event_(value);
    if (event) {
      p.batch.events.push_back(std::move(*event));
    } else {
      p.batch.rejected.push_back(
          {"kafka " + where() + ": " + event.status().message(), std::string(value)});
    }
  } else {
    // One message is one audit event (the ingest role's contract): decoded straight into the
    // partition's list, without a document of its own.
    if (p.decoded.events.capacity() == 0) {
      p.decoded.events.reserve(std::min<std::size_t>(options_.max_batch_messages, 4096));
    }
    const std::size_t rejected = p.decoded.rejected.size();
    decode_audit_line(value, &p.decoded);
    if (p.decoded.rejected.size() > rejected) {
      RejectedItem& r = p.decoded.rejected.back();
      r.reason = "kafka " + where() + ": " + r.reason;
    }
  }
}

void KafkaConsumer::hand_over() {
  stage_->release_written();
  const bool failed = stage_->failed();
  for (auto& [partition, p] : pending_) {
    WriteWork work;
    work.item.partitions = {partition};
    work.messages = p.messages;
    for (int t = 0; t < 2; ++t) {
      if (p.spans[t].first < 0) {
        continue;
      }
      work.item.offsets.push_back({topic_name(t), partition, p.spans[t].last + 1});
      work.spans.push_back({topic_name(t), partition, p.spans[t].first, p.spans[t].last});
    }
    if (!failed) {
      p.batch.audit = std::move(p.decoded.events);
      append(p.batch.rejected, p.decoded.rejected);
      // Messages that will be read again after a failed write are not shown to the
      // correlator now.
      writer_->process(partition, p.batch, work.item.outcome);
      work.item.batch = std::move(p.batch);
    }
    stage_->push(std::move(work));  // after a failure the stage keeps only the rewind point
  }
  abandon();
}

void KafkaConsumer::recover_from_failure() {
  write_errors_.add();
  hand_over();  // the stage refuses it and notes where each partition must be read again
  stage_->drain();
  const auto rewind = stage_->take_failure();
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(rewind.size())));
  for (const auto& [tp, offset] : rewind) {
    rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second)->offset = offset;
  }
  if (list->cnt > 0) {
    if (rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_.get(), list.get(), 5000)) {
      spdlog::error("kafka consumer: rewind failed: {}", rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
  }
  // The store refused; give it a moment (polling keeps the group membership alive).
  const auto until = Clock::now() + options_.retry_backoff;
  while (!stopping_ && Clock::now() < until) {
    MessagePtr ignored(rd_kafka_consumer_poll(rk_.get(), 50));
    if (ignored && ignored->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Read past the rewind point: put it back so it is read again later.
      PartitionListPtr back(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(back.get(), rd_kafka_topic_name(ignored->rkt),
                                        ignored->partition)
          ->offset = ignored->offset;
      if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_.get(), back.get(), 5000)) {
        rd_kafka_error_destroy(e);
      }
    }
  }
}

void KafkaConsumer::rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaConsumer*>(opaque)->on_rebalance(err, partitions);
}

void KafkaConsumer::on_rebalance(rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions) {
  rebalances_.add();
  const std::vector<std::int32_t> indexes = indexes_of(partitions);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    spdlog::info("kafka consumer: assigned {} partitions of {} topics", indexes.size(),
                 partitions->cnt);
    // The writer maps stored items to partitions as the producer did: it needs the count.
    auto count = partition_count(rk_.get(), options_.kafka.audit_topic(), std::chrono::seconds(5));
    if (!count) {
      spdlog::warn("kafka consumer: partition count unknown: {}", count.status().to_string());
    }
    stage_->drain();  // the writer's store is ours while it rebuilds state
    writer_->assigned(indexes, count ? *count : 0);  // state first, then messages
    start_after_store(partitions);
    assignment_.clear();
    last_message_.clear();
    for (int i = 0; i < partitions->cnt; ++i) {
      assignment_.emplace_back(partitions->elems[i].topic, partitions->elems[i].partition);
    }
    for (std::int32_t index : indexes) {
      last_message_[index] = Clock::now();
    }
    rd_kafka_assign(rk_.get(), partitions);
    ready_ = true;
    return;
  }
  // Revoked (or an error): finish what is in flight unless the partitions are already
  // someone else's; then let them go.
  if (rd_kafka_assignment_lost(rk_.get())) {
    spdlog::warn("kafka consumer: partitions lost; abandoning {} uncommitted messages",
                 pending_messages_);
    abandon();
    stage_->discard();
  } else {
    hand_over();
    stage_->drain();
    // A failed write abandons its messages uncommitted: the next owner reads them again.
    if (!stage_->take_failure().empty()) {
      write_errors_.add();
    }
  }
  spdlog::info("kafka consumer: revoked {} partition indexes", indexes.size());
  writer_->revoked(indexes);
  assignment_.clear();
  last_message_.clear();
  rd_kafka_assign(rk_.get(), nullptr);
}

void KafkaConsumer::start_after_store(rd_kafka_topic_partition_list_t* partitions) {
  // Kafka's committed offsets first; then the store may know of later ones.
  const rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), partitions, 10'000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("kafka consumer: reading committed offsets: {}", rd_kafka_err2str(err));
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = partitions->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      tp.offset = RD_KAFKA_OFFSET_INVALID;  // fall back to the group's stored offset
    }
    const std::int64_t stored = writer_->stored_offset(tp.topic, tp.partition);
    if (stored >= 0 && (tp.offset < 0 || stored > tp.offset)) {
      spdlog::info("kafka consumer: {}/{} starts at {} (the store is ahead of the group's {})",
                   tp.topic, tp.partition, stored, tp.offset);
      tp.offset = stored;
    }
  }
}

void KafkaConsumer::error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof buf);
    spdlog::error("kafka consumer: fatal error: {}", buf);
    self->ready_ = false;
    self->stopping_ = true;
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    self->ready_ = false;
  }
  spdlog::warn("kafka consumer: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
               reason);
}

void KafkaConsumer::update_lag() {
  for (const auto& [topic, partition] : assignment_) {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition);
    if (rd_kafka_position(rk_.get(), list.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (rd_kafka_get_watermark_offsets(rk_.get(), topic.c_str(), partition, &low, &high) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    const std::int64_t position = list->elems[0].offset;
    const std::int64_t lag = position >= 0 ? high - position : high - low;
    MetricsRegistry::global()
        .get("ktrail_kafka_consumer_lag", MetricType::kGauge,
             "Messages in a partition not yet consumed by this member.",
             "topic=\"" + topic + "\",partition=\"" + std::to_string(partition) + "\"")
        .set(std::max<std::int64_t>(lag, 0));
  }
}

void KafkaConsumer::queue_released(Batch batch, std::vector<std::int32_t> partitions) {
  if (batch.incidents.empty() && batch.findings.empty() && batch.tallies.empty()) {
    return;
  }
  WriteWork work;
  batch.origin = kafka_origin(partitions);
  work.item.partitions = std::move(partitions);
  work.item.batch = std::move(batch);
  // No spans: after a failed write nothing is read again for it (the incidents are rebuilt by
  // the restore at the next assignment).
  stage_->push(std::move(work));
}

void KafkaConsumer::check_idle(Clock::time_point now) {
  std::vector<std::int32_t> quiet;
  for (const auto& [index, last] : last_message_) {
    if (now - last >= options_.idle_after && pending_.count(index) == 0) {
      quiet.push_back(index);
    }
  }
  if (quiet.empty() || stage_->failed()) {
    return;
  }
  const bool all_quiet = quiet.size() == last_message_.size();
  Batch released;
  writer_->idle(quiet, all_quiet, released);
  if (all_quiet && !released.incidents.empty()) {
    // Once per quiet period: a second release finds nothing held.
    spdlog::info("kafka consumer: no message for {} ms on any of {} partitions: released what "
                 "processing held back ({} incident updates)",
                 options_.idle_after.count(), quiet.size(), released.incidents.size());
  }
  queue_released(std::move(released), std::move(quiet));
}

Status KafkaConsumer::run() {
  Clock::time_point now = Clock::now();  // read once per polled message
  Clock::time_point batch_started = now;
  Clock::time_point next_lag = now;
  Clock::time_point next_idle = now + std::chrono::seconds(1);
  while (!stopping_) {
    int wait_ms = 100;
    if (pending_messages_ > 0) {
      if (stage_->idle()) {
        wait_ms = 0;  // the store thread waits: do not hold back what is decoded
      } else {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            batch_started + options_.max_batch_wait - now);
        wait_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 100));
      }
    }
    MessagePtr msg(rd_kafka_consumer_poll(rk_.get(), wait_ms));
    now = Clock::now();
    bool caught_up = !msg;
    if (msg) {
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (pending_messages_ == 0) {
          batch_started = now;
        }
        add_message(msg.get());
        ready_ = true;
      } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("kafka consumer: {}", rd_kafka_message_errstr(msg.get()));
        caught_up = true;
      }
    }
    if (caught_up) {
      stage_->release_written();
    }
    if (pending_messages_ > 0 &&
        (pending_messages_ >= options_.max_batch_messages ||
         now >= batch_started + options_.max_batch_wait || (caught_up && stage_->idle()))) {
      hand_over();
    }
    if (stage_->failed()) {
      recover_from_failure();
    }
    if (now >= next_lag) {
      update_lag();
      next_lag = now + options_.lag_interval;
    }
    if (now >= next_idle) {
      check_idle(now);
      next_idle = now + std::min<Clock::duration>(std::chrono::seconds(1), options_.idle_after);
    }
  }
  hand_over();
  if (!stage_->failed()) {
    // A stopped member's incidents are those a replay of the same messages gives.
    Batch released;
    writer_->finish(released);
    std::vector<std::int32_t> owned;
    for (const auto& [index, last] : last_message_) {
      owned.push_back(index);
    }
    queue_released(std::move(released), std::move(owned));
  }
  stage_->stop();  // writes and commits what is queued
  if (stage_->failed()) {
    (void)stage_->take_failure();  // left uncommitted: read again by the next owner
  }
  const rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get());
  ready_ = false;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unavailable(std::string("kafka consumer close: ") + rd_kafka_err2str(err));
  }
  return Status::ok();
}

}  // namespace ktrail::kafka
