// Write cost of the Kubernetes Event indexes (see BENCHMARKS.md, "Correlation and incident
// queries").
//
// Schema version 6 keys the Event indexes by span class before last_time (docs/store.md). An
// Event whose class differs from its neighbours' is inserted at another place of each index, so
// a batch can dirty more index pages. This writes --events synthetic Events (60 kubelets, 40
// namespaces, 5000 pods, a --long-share of them lasting 1 to 96 minutes, ~1 KB of JSON each) in
// batches of 400 into a fresh store, once as is and once with the Event indexes replaced by
// the version 4 ones (the baseline), runs alternating, and reports the process CPU time per
// Event (writer and checkpointer threads), medians of --runs.
//
// usage: event_write_bench [--dir D] [--events N] [--long-share F] [--runs R]
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/store.h"

namespace {

using namespace ktrail;

struct Options {
  std::string dir = "event-write-bench-data";
  std::size_t events = 400'000;
  double long_share = 0.05;
  int runs = 3;
};

// The Event indexes of schema version 4, for the baseline.
constexpr const char* kVersion4Indexes = R"sql(
DROP INDEX kube_events_by_span_time;
DROP INDEX kube_events_by_object_time;
DROP INDEX kube_events_by_host_time;
DROP INDEX kube_events_by_namespace_time;
CREATE INDEX kube_events_by_time ON kube_events(last_time);
CREATE INDEX kube_events_by_object ON kube_events(object_name, object_kind);
CREATE INDEX kube_events_by_host ON kube_events(source_host, last_time)
  WHERE source_host IS NOT NULL;
CREATE INDEX kube_events_by_namespace ON kube_events(object_namespace, last_time);
)sql";

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<Batch> make_batches(const Options& o) {
  std::vector<Batch> batches;
  const std::string json(900, 'x');
  Micros last = 1772359200000000;  // 2026-03-01T10:00:00Z
  const auto long_every = static_cast<std::uint64_t>(o.long_share > 0 ? 1.0 / o.long_share : 0);
  for (std::uint64_t seq = 0; seq < o.events; ++seq) {
    if (seq % 400 == 0) {
      batches.emplace_back();
    }
    KubeEvent e;
    const auto node = static_cast<int>(seq % 60);
    const bool about_node = seq % 10 == 0;
    e.uid = "ev-" + std::to_string(seq);
    e.namespace_ = "ns-" + std::to_string(seq % 40);
    e.name = "obj." + std::to_string(seq);
    e.object.kind = about_node ? "Node" : "Pod";
    e.object.name =
        about_node ? "node-" + std::to_string(node) : "pod-" + std::to_string(seq % 5000);
    e.object.namespace_ = about_node ? "" : e.namespace_;
    e.source_host = about_node ? "" : "node-" + std::to_string(node);
    e.source_component = "kubelet";
    e.reason = "BackOff";
    e.message = "Back-off restarting failed container";
    last += 1000;
    e.last_time = last;
    const bool lasting = long_every > 0 && seq % long_every == long_every / 2;
    e.first_time =
        lasting ? last - static_cast<Micros>(1 + seq % 96) * 60 * kMicrosPerSecond : last;
    e.json = json;
    batches.back().events.push_back(std::move(e));
  }
  return batches;
}

// One run into a fresh store; returns CPU microseconds per Event.
double run(const Options& o, const std::vector<Batch>& batches, bool baseline) {
  const std::string path = o.dir + (baseline ? "/baseline.db" : "/current.db");
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + suffix);
  }
  auto store = Store::open(path, StoreOptions{});
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.status().to_string().c_str());
    std::exit(1);
  }
  if (baseline &&
      sqlite3_exec((*store)->handle(), kVersion4Indexes, nullptr, nullptr, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "baseline indexes: %s\n", sqlite3_errmsg((*store)->handle()));
    std::exit(1);
  }
  const double t0 = cpu_seconds();
  for (const Batch& b : batches) {
    if (!(*store)->write_batch(b)) {
      std::fprintf(stderr, "write failed\n");
      std::exit(1);
    }
  }
  store->reset();  // the final checkpoint counts too
  return (cpu_seconds() - t0) * 1e6 / static_cast<double>(o.events);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--dir") {
      o.dir = next();
    } else if (a == "--events") {
      o.events = std::max<std::size_t>(400, std::stoull(next()));
    } else if (a == "--long-share") {
      o.long_share = std::stod(next());
    } else if (a == "--runs") {
      o.runs = std::max(1, std::stoi(next()));
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::filesystem::create_directories(o.dir);
  const std::vector<Batch> batches = make_batches(o);
  std::vector<double> current, baseline;
  for (int r = 0; r < o.runs; ++r) {
    // Alternate which goes first: the second of a pair pays for the first's writeback.
    const bool baseline_first = r % 2 == 1;
    for (bool b : {baseline_first, !baseline_first}) {
      (b ? baseline : current).push_back(run(o, batches, b));
    }
  }
  std::printf("Event writes: %zu Events (%.0f%% lasting minutes), batch 400, %d runs each\n",
              o.events, o.long_share * 100, o.runs);
  std::printf("  version 4 Event indexes (baseline): %.2f us CPU per Event\n", median(baseline));
  std::printf("  version 6 Event indexes:            %.2f us CPU per Event\n", median(current));
  std::printf("  ratio v5/v4: %.3f\n", median(current) / median(baseline));
  return 0;
}
