// Helpers of the Kafka incident tests: sending an IncidentStream (tests/support/
// incident_stream.h) through the producer in time order, waiting until the shards hold all of
// it, and summarising incidents for comparison with a single-process run.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "app/shards.h"
#include "queue/kafka_producer.h"
#include "tests/support/incident_stream.h"

namespace ktrail::testing {

// Submits one batch and waits for its answer; a refused or failed batch is sent again, as
// kube-apiserver would, until `deadline`.
inline bool send_acknowledged(kafka::KafkaProducer& producer, const Batch& batch,
                              std::chrono::steady_clock::time_point deadline) {
  while (std::chrono::steady_clock::now() < deadline) {
    std::mutex m;
    std::condition_variable cv;
    bool finished = false;
    bool ok = false;
    const SubmitResult r = producer.submit(batch, [&](const Status& s, const BatchOutcome&) {
      std::lock_guard lock(m);
      ok = s.is_ok();
      finished = true;
      cv.notify_all();
    });
    std::unique_lock lock(m);
    if (r != SubmitResult::kAccepted) {
      cv.wait_for(lock, std::chrono::milliseconds(100), [] { return false; });  // back off
      continue;
    }
    cv.wait_until(lock, deadline, [&] { return finished; });
    if (finished && ok) return true;
  }
  return false;
}

// Items [from, to) of `s` as batches of at most `per_batch` (IncidentStream::batches), each
// acknowledged.
inline bool send_range(kafka::KafkaProducer& producer, const IncidentStream& s, std::size_t from,
                       std::size_t to, std::size_t per_batch) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (const auto& [begin, end] : s.batches(from, to, per_batch)) {
    if (!send_acknowledged(producer, s.batch(begin, end), deadline)) {
      return false;
    }
  }
  return true;
}

// Whether the shards together hold items [0, to) of `s`: every audit event, and every Event at
// its latest count. Shards not created yet count as empty.
inline bool shards_hold(const std::vector<std::string>& paths, const IncidentStream& s,
                        std::size_t to) {
  std::vector<std::string> existing;
  for (const auto& p : paths) {
    if (std::filesystem::exists(p)) existing.push_back(p);
  }
  if (existing.empty()) return false;
  StoreOptions options;
  options.read_only = true;
  auto shards = app::ShardSet::open(existing, options);
  if (!shards) return false;
  auto audit = shards->find_audit({});
  auto events = shards->find_kube_events({});
  std::size_t want_audit = 0;
  for (std::size_t i = 0; i < std::min(to, s.items.size()); ++i) {
    want_audit += s.items[i].audit ? 1 : 0;
  }
  if (!audit || !events || audit->size() != want_audit) return false;
  const auto want = final_counts(s, to);
  if (events->size() != want.size()) return false;
  for (const auto& e : *events) {
    auto it = want.find(e.uid);
    if (it == want.end() || it->second != e.count) return false;
  }
  return true;
}

// One line per incident: what must agree between a Kafka run and a single-process run.
inline std::vector<std::string> summary(const std::vector<Incident>& incidents) {
  std::vector<std::string> out;
  for (const auto& i : incidents) {
    std::string line = i.id + " " + to_string(i.kind) + " " + format_rfc3339(i.start) + " " +
                       (i.end ? format_rfc3339(*i.end) : "open") + " node=" + i.node +
                       " workload=" + i.namespace_ + "/" + i.workload + " objects=";
    for (const auto& o : i.objects) line += o + ",";
    out.push_back(line);
  }
  return out;
}

}  // namespace ktrail::testing
