#include "app/pipeline.h"

#include "core/metrics.h"

namespace ktrail::app {
namespace {

Metric& metric(const char* name, MetricType type, const char* help,
               const std::string& labels = "") {
  return MetricsRegistry::global().get(name, type, help, labels);
}

}  // namespace

QueueCost batch_cost(const Batch& batch) {
  QueueCost cost;
  cost.events = batch.audit.size() + batch.events.size() + batch.rejected.size();
  for (const auto& e : batch.audit) {
    cost.bytes += e.json.size();
  }
  for (const auto& e : batch.events) {
    cost.bytes += e.json.size();
  }
  for (const auto& r : batch.rejected) {
    cost.bytes += r.raw.size();
  }
  return cost;
}

Pipeline::Pipeline(const PipelineOptions& options,
                   std::vector<std::unique_ptr<Processor>> processors, BatchWriter writer)
    : processors_(std::move(processors)),
      writer_(std::move(writer)),
      group_events_(options.group_events),
      queue_(options.queue),
      ack_timeout_(options.ack_timeout) {
  worker_ = std::thread([this] { run(); });
  if (ack_timeout_.count() > 0) {
    watchdog_ = std::thread([this] { watch(); });
  }
}

Pipeline::~Pipeline() { close_and_drain(); }

bool Pipeline::Ack::answer(const Status& status, const BatchOutcome& outcome) {
  if (answered.exchange(true)) {
    return false;
  }
  BatchDone d = std::move(done);
  d(status, outcome);
  return true;
}

SubmitResult Pipeline::submit(Batch batch, BatchDone done) {
  free_retired();
  static Metric& queued_events =
      metric("ktrail_queue_events", MetricType::kGauge, "Items waiting in the embedded queue");
  const QueueCost cost = batch_cost(batch);
  std::shared_ptr<Ack> ack;
  if (ack_timeout_.count() > 0) {
    ack = std::make_shared<Ack>();
    ack->done = std::move(done);
    ack->deadline = std::chrono::steady_clock::now() + ack_timeout_;
    done = [ack](const Status& status, const BatchOutcome& outcome) {
      ack->answer(status, outcome);
    };
  }
  switch (queue_.try_push(Item{std::move(batch), std::move(done)}, cost)) {
    case PushResult::kAccepted:
      queued_events.set(static_cast<std::int64_t>(queue_.used().events));
      if (ack) {
        std::lock_guard lock(watch_mutex_);
        watched_.push_back(std::move(ack));
        watch_cv_.notify_one();
      }
      return SubmitResult::kAccepted;
    case PushResult::kFull:
      return SubmitResult::kFull;
    case PushResult::kClosed:
      break;
  }
  return SubmitResult::kUnavailable;
}

SubmitResult Pipeline::submit_wait(Batch batch, BatchDone done) {
  free_retired();
  const QueueCost cost = batch_cost(batch);
  Item item{std::move(batch), std::move(done)};
  return queue_.push_wait(item, cost) == PushResult::kAccepted ? SubmitResult::kAccepted
                                                               : SubmitResult::kUnavailable;
}

bool Pipeline::ready() const { return !queue_.closed() && last_write_ok_.load(); }

void Pipeline::close_and_drain() {
  queue_.close();
  if (worker_.joinable()) {
    worker_.join();
  }
  {
    std::lock_guard lock(watch_mutex_);
    watch_stop_ = true;
    watch_cv_.notify_one();
  }
  if (watchdog_.joinable()) {
    watchdog_.join();
  }
  watched_.clear();
  free_retired();
}

void Pipeline::watch() {
  static Metric& timeouts =
      metric("ktrail_pipeline_ack_timeouts_total", MetricType::kCounter,
             "Batches answered 503 because the store had not committed them within --ack-timeout");
  const Status late = unavailable("not committed within --ack-timeout (" +
                                  std::to_string(ack_timeout_.count()) +
                                  " ms): the store is slow; the batch stays queued, a retry is safe");
  std::unique_lock lock(watch_mutex_);
  while (!watch_stop_) {
    while (!watched_.empty() && watched_.front()->answered.load()) {
      watched_.pop_front();
    }
    if (watched_.empty()) {
      watch_cv_.wait(lock);
      continue;
    }
    const auto deadline = watched_.front()->deadline;
    if (std::chrono::steady_clock::now() < deadline) {
      watch_cv_.wait_until(lock, deadline);
      continue;
    }
    std::shared_ptr<Ack> expired = std::move(watched_.front());
    watched_.pop_front();
    lock.unlock();
    if (expired->answer(late, {})) {
      timeouts.add();
    }
    lock.lock();
  }
}

void Pipeline::free_retired() {
  std::vector<std::vector<Item>> retired;
  {
    std::lock_guard lock(retired_mutex_);
    retired.swap(retired_);
  }
  // `retired` goes out of scope here, outside the lock.
}

void Pipeline::run() {
  static Metric& queued_events =
      metric("ktrail_queue_events", MetricType::kGauge, "Items waiting in the embedded queue");
  static Metric& written = metric("ktrail_pipeline_batches_total", MetricType::kCounter,
                                  "Batches through the pipeline, by result", "result=\"ok\"");
  static Metric& failed = metric("ktrail_pipeline_batches_total", MetricType::kCounter,
                                 "Batches through the pipeline, by result", "result=\"failed\"");
  static Metric& stored = metric("ktrail_store_items_total", MetricType::kCounter,
                                 "Items written by the pipeline, by outcome", "outcome=\"stored\"");
  static Metric& duplicates =
      metric("ktrail_store_items_total", MetricType::kCounter,
             "Items written by the pipeline, by outcome", "outcome=\"duplicate\"");
  static Metric& rejected =
      metric("ktrail_store_items_total", MetricType::kCounter,
             "Items written by the pipeline, by outcome", "outcome=\"rejected\"");
  static Metric& dropped =
      metric("ktrail_store_items_total", MetricType::kCounter,
             "Items written by the pipeline, by outcome", "outcome=\"dropped_by_policy\"");
  static Histogram& queue_wait = MetricsRegistry::global().histogram(
      "ktrail_queue_wait_seconds",
      "Time a batch waited in the embedded queue before the writer took it");
  for (;;) {
    std::vector<Item> group = queue_.pop_group(group_events_);
    if (group.empty()) {
      break;
    }
    queued_events.set(static_cast<std::int64_t>(queue_.used().events));
    const auto taken = std::chrono::steady_clock::now();
    for (const auto& item : group) {
      queue_wait.observe(std::chrono::duration<double>(taken - item.queued).count());
    }
    std::vector<BatchOutcome> processed(group.size());
    std::vector<const Batch*> batches;
    for (std::size_t i = 0; i < group.size(); ++i) {
      for (auto& processor : processors_) {
        processor->process(group[i].batch, processed[i]);
      }
      batches.push_back(&group[i].batch);
    }
    auto result = writer_(batches);
    if (result && result->size() != group.size()) {
      result = internal_error("the writer returned " + std::to_string(result->size()) +
                              " outcomes for " + std::to_string(group.size()) + " batches");
    }
    if (!result) {
      last_write_ok_ = false;
      failed.add(static_cast<std::int64_t>(group.size()));
      for (auto& item : group) {
        item.done(result.status(), {});
      }
      continue;
    }
    last_write_ok_ = true;
    for (std::size_t i = 0; i < group.size(); ++i) {
      BatchOutcome outcome = (*result)[i];
      outcome.dropped_by_policy += processed[i].dropped_by_policy;
      outcome.truncated += processed[i].truncated;
      outcome.late += processed[i].late;
      outcome.quarantined += processed[i].quarantined;
      written.add();
      stored.add(static_cast<std::int64_t>(outcome.stored));
      duplicates.add(static_cast<std::int64_t>(outcome.duplicates));
      rejected.add(static_cast<std::int64_t>(outcome.rejected));
      dropped.add(static_cast<std::int64_t>(outcome.dropped_by_policy));
      group[i].done(Status::ok(), outcome);
    }
    std::lock_guard lock(retired_mutex_);
    retired_.push_back(std::move(group));
  }
}

}  // namespace ktrail::app
