// A generator of realistic kube-apiserver audit events, for benchmarks (store, ingest, HTTP).
//
// The mix resembles a busy cluster: kubelets (system:node:*), controllers and service
// accounts doing get/list/watch/update of leases, pods, nodes and configmaps, some humans with
// kubectl, a few denied requests. Each resource kind has a population of objects that are
// touched again and again, and now and then one is replaced by a new one. stageTimestamps
// increase with jitter, and a small share of events are exact repeats of recent ones (an
// apiserver retrying a webhook batch). Metadata events are about 1 KB; RequestResponse events
// carry request and response objects of several KB. Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>

#include "core/time.h"

namespace ktrail::bench {

struct GeneratorOptions {
  std::uint64_t seed = 42;
  Micros start = 1772359200000000;  // 2026-03-01T10:00:00Z
  // Mean spacing of stageTimestamps, microseconds (jittered).
  Micros mean_spacing = 100;
  // Share of events that repeat a recent event exactly.
  double duplicate_rate = 0.01;
  // Level RequestResponse (objects of `object_bytes`) instead of Metadata.
  bool request_response = false;
  std::size_t object_bytes = 4096;
};

class AuditGenerator {
 public:
  explicit AuditGenerator(GeneratorOptions options = {});

  // One audit event as a compact JSON line (no trailing newline).
  std::string next_line();
  // `n` events as an audit.k8s.io/v1 EventList body (what the webhook backend POSTs).
  std::string next_event_list(std::size_t n);

  // Events produced so far, and how many of them were repeats.
  std::uint64_t produced() const { return produced_; }
  std::uint64_t repeats() const { return repeats_; }

 private:
  std::string fresh_event();
  std::string object_json(const std::string& kind, const std::string& ns, const std::string& name);

  GeneratorOptions options_;
  std::mt19937_64 rng_;
  Micros clock_;
  std::uint64_t produced_ = 0;
  std::uint64_t repeats_ = 0;
  std::deque<std::string> recent_;
  std::unordered_map<std::string, std::string> object_suffixes_;  // "resource/slot" -> name suffix
};

}  // namespace ktrail::bench
