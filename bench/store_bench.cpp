// Store write-path benchmark (see BENCHMARKS.md, "Store write path").
//
// (a) baseline: BaselineStore (bench/baseline_store.h), events/s per slice up to
//     --baseline-events;
// (b) ktrail: Store::write_batches fed the way `ktrail serve` feeds it: a decoding thread turns
//     JSON lines into batches (decode_audit_line), the writer thread only writes. The store
//     is prefilled with --prefill events, then the next --measure events are measured.
// Event generation is not timed: each chunk of lines is generated before its clock starts.
//
// usage: store_bench [--dir D] [--prefill N] [--measure N] [--baseline-events N]
//                    [--batch N] [--zstd-level L] [--cache-mib M] [--full-sync]
//                    [--page-size B] [--wal-pages N] [--index-merge-rows N]
//                    [--group-events N] [--queue-events N] [--drop-index NAME]... [--skip-baseline]
//                    [--keep]  (keep the store files in --dir, e.g. to time queries on them)
//                    [--cluster NAME]  (the cluster of every batch; default "default")
//                    [--prefilled-store PATH]  (start from a copy of a store kept by an earlier
//                    run that holds exactly the first --prefill generated events: the prefill
//                    is then generated, to reach the same measured events, but not written)
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/baseline_store.h"
#include "bench/generator.h"
#include "core/audit_json.h"
#include "storage/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using ktrail::Batch;

struct Options {
  std::string dir = "store-bench-data";
  // The cluster of every batch written (core/cluster.h); "default" costs nothing in a row.
  std::string cluster = "default";
  std::size_t prefill = 2'000'000;
  std::size_t measure = 1'000'000;
  std::size_t baseline_events = 1'000'000;
  std::size_t batch = 2000;
  // The embedded queue's bound and the pipeline's group size (app/pipeline.h defaults);
  // --group-events 1 writes every batch in its own transaction.
  std::size_t queue_events = 20000;
  std::size_t group_events = 8192;
  std::size_t chunk = 50'000;
  std::size_t slice = 100'000;
  int zstd_level = 1;
  int cache_mib = 64;
  int page_size = 4096;
  int wal_pages = 0;                 // 0: the store's default
  std::size_t index_merge_rows = 0;  // 0: the store's default
  bool full_sync = false;
  std::vector<std::string> drop_indexes;  // to measure what each index costs
  std::string prefilled_store;            // copied instead of writing the prefill
};

long rss_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      return std::atol(line.c_str() + std::strlen(field));
    }
  }
  return -1;
}

// CPU time of the whole process, seconds: with the writer and the decoder, the threads of the
// store (block compression, checkpoints). Two cores allow at most 2 / (this per event).
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU time of the calling thread, seconds. The machine is shared, so wall-clock rates depend
// on what else runs; CPU time per event says what the code itself costs.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

std::vector<std::string> generate(ktrail::bench::AuditGenerator& gen, std::size_t n) {
  std::vector<std::string> lines;
  lines.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    lines.push_back(gen.next_line());
  }
  return lines;
}

// A bounded hand-off between the decoding thread and the writer, like the embedded queue of
// `ktrail serve` (queue/embedded_queue.h): bounded in events, and the writer takes what has
// queued up, up to `group_events` events, as one group (app/pipeline.h).
class BatchQueue {
 public:
  BatchQueue(std::size_t max_events, std::size_t group_events)
      : max_events_(max_events), group_events_(group_events) {}
  void push(Batch b) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return q_.empty() || events_ + b.audit.size() <= max_events_; });
    events_ += b.audit.size();
    q_.push_back(std::move(b));
    not_empty_.notify_one();
  }
  // An empty group once closed and drained.
  std::vector<Batch> pop_group() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    std::vector<Batch> group;
    std::size_t events = 0;
    while (!q_.empty() && (group.empty() || events + q_.front().audit.size() <= group_events_)) {
      events += q_.front().audit.size();
      events_ -= q_.front().audit.size();
      group.push_back(std::move(q_.front()));
      q_.pop_front();
    }
    not_full_.notify_one();
    return group;
  }
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Batch> q_;
  std::size_t events_ = 0;
  std::size_t max_events_;
  std::size_t group_events_;
  bool closed_ = false;
};

struct Totals {
  std::size_t stored = 0, duplicates = 0, rejected = 0;
  std::size_t groups = 0;     // transactions
  Clock::duration writing{};  // time spent inside write_batch
  double writer_cpu = 0;      // CPU seconds of the writer thread
  double decoder_cpu = 0;     // CPU seconds of the decoding thread
};

// Decodes `lines` on a second thread and writes the batches here; returns the elapsed time.
Clock::duration ingest_chunk(ktrail::Store& store, const std::vector<std::string>& lines,
                             const Options& o, Totals* totals) {
  const std::size_t batch_size = o.batch;
  const auto t0 = Clock::now();
  const double cpu0 = thread_cpu_seconds();
  BatchQueue queue(o.queue_events, std::max<std::size_t>(o.group_events, 1));
  double decoder_cpu = 0;
  std::thread decoder([&] {
    pthread_setname_np(pthread_self(), "decoder");
    const double dcpu0 = thread_cpu_seconds();
    for (std::size_t i = 0; i < lines.size(); i += batch_size) {
      ktrail::DecodedAudit decoded;
      decoded.events.reserve(batch_size);
      for (std::size_t j = i; j < std::min(lines.size(), i + batch_size); ++j) {
        ktrail::decode_audit_line(lines[j], &decoded);
      }
      Batch b;
      b.audit = std::move(decoded.events);
      b.rejected = std::move(decoded.rejected);
      b.origin = "bench";
      b.cluster = o.cluster;
      queue.push(std::move(b));
    }
    decoder_cpu = thread_cpu_seconds() - dcpu0;
    queue.close();
  });
  for (;;) {
    std::vector<Batch> group = queue.pop_group();
    if (group.empty()) {
      break;
    }
    std::vector<const Batch*> batches;
    for (const Batch& b : group) {
      batches.push_back(&b);
    }
    const auto w0 = Clock::now();
    auto outcomes = store.write_batches(batches);
    totals->writing += Clock::now() - w0;
    if (!outcomes) {
      std::fprintf(stderr, "write_batches failed: %s\n", outcomes.status().to_string().c_str());
      std::exit(1);
    }
    ++totals->groups;
    for (const auto& outcome : *outcomes) {
      totals->stored += outcome.stored;
      totals->duplicates += outcome.duplicates;
      totals->rejected += outcome.rejected;
    }
  }
  totals->writer_cpu += thread_cpu_seconds() - cpu0;
  decoder.join();
  totals->decoder_cpu += decoder_cpu;
  return Clock::now() - t0;
}

double run_baseline(const Options& o) {
  const std::string path = o.dir + "/baseline.db";
  auto opened = ktrail::bench::BaselineStore::open(path);
  if (!opened) {
    std::fprintf(stderr, "baseline: %s\n", opened.status().to_string().c_str());
    std::exit(1);
  }
  std::unique_ptr<ktrail::bench::BaselineStore> store(*opened);
  ktrail::bench::AuditGenerator gen;
  std::printf(
      "\n(a) baseline: one table, unique identity index + 3 secondary indexes, %zu-row "
      "transactions\n",
      o.batch);
  std::printf("%12s %12s %14s %10s\n", "events", "events/s", "cpu-events/s", "cpu us/ev");
  Clock::duration total{};
  double total_cpu = 0;
  double last_rate = 0;
  double last_cpu_rate = 0;
  for (std::size_t done = 0; done < o.baseline_events; done += o.slice) {
    auto lines = generate(gen, o.slice);
    const auto t0 = Clock::now();
    const double cpu0 = thread_cpu_seconds();
    auto n = store->insert(lines, o.batch);
    const double cpu = thread_cpu_seconds() - cpu0;
    const auto dt = Clock::now() - t0;
    if (!n) {
      std::fprintf(stderr, "baseline: %s\n", n.status().to_string().c_str());
      std::exit(1);
    }
    total += dt;
    total_cpu += cpu;
    last_rate = double(o.slice) / seconds(dt);
    last_cpu_rate = double(o.slice) / cpu;
    std::printf("%12zu %12.0f %14.0f %10.1f\n", done + o.slice, last_rate, last_cpu_rate,
                1e6 * cpu / double(o.slice));
    std::fflush(stdout);
  }
  std::printf(
      "baseline overall: %.0f events/s wall, %.0f events/s per CPU second; last slice: "
      "%.0f wall, %.0f per CPU second\n",
      double(o.baseline_events) / seconds(total), double(o.baseline_events) / total_cpu, last_rate,
      last_cpu_rate);
  return last_cpu_rate;
}

std::uintmax_t store_bytes(const std::string& path) {
  std::uintmax_t bytes = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(path + suffix, ec);
    bytes += ec ? 0 : n;
  }
  return bytes;
}

double run_ktrail(const Options& o) {
  const std::string path = o.dir + "/ktrail.db";
  if (!o.prefilled_store.empty()) {
    std::error_code ec;
    std::filesystem::copy_file(o.prefilled_store, path, ec);
    if (ec) {
      std::fprintf(stderr, "copy %s: %s\n", o.prefilled_store.c_str(), ec.message().c_str());
      std::exit(1);
    }
    ::sync();  // the copy's write-back to disk must not run during the measurement
    std::printf("prefill: a copy of %s (the first %zu generated events)\n",
                o.prefilled_store.c_str(), o.prefill);
  }
  ktrail::StoreOptions so;
  so.zstd_level = o.zstd_level;
  so.cache_mib = o.cache_mib;
  so.page_size = o.page_size;
  if (o.wal_pages > 0) {
    so.wal_autocheckpoint_pages = o.wal_pages;
  }
  if (o.index_merge_rows > 0) {
    so.index_merge_rows = o.index_merge_rows;
  }
  so.sync = o.full_sync ? ktrail::SyncMode::kFull : ktrail::SyncMode::kNormal;
  auto opened = ktrail::Store::open(path, so);
  if (!opened) {
    std::fprintf(stderr, "ktrail: %s\n", opened.status().to_string().c_str());
    std::exit(1);
  }
  auto& store = **opened;
  for (const auto& index : o.drop_indexes) {
    const std::string sql = "DROP INDEX " + index;
    if (sqlite3_exec(store.handle(), sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "%s: %s\n", sql.c_str(), sqlite3_errmsg(store.handle()));
      std::exit(1);
    }
    std::printf("experiment: dropped index %s\n", index.c_str());
  }
  ktrail::bench::GeneratorOptions go;
  go.seed = 7;
  ktrail::bench::AuditGenerator gen(go);
  std::printf(
      "\n(b) ktrail Store::write_batches (decode on a second thread), prefill %zu, "
      "zstd level %d, cache %d MiB\n",
      o.prefill, o.zstd_level, o.cache_mib);
  std::printf("%12s %12s %14s %10s %10s %8s\n", "stored", "events/s", "cpu-events/s", "writer us",
              "decoder us", "RSS MiB");
  Totals totals;
  // One line per slice: wall-clock rate, and the rate the two threads' CPU time allows
  // (events / the busier thread's CPU seconds), with each thread's CPU microseconds per event.
  auto report = [&](std::size_t events, Clock::duration wall, const Totals& before,
                    const char* note) {
    const double writer = totals.writer_cpu - before.writer_cpu;
    const double decoder = totals.decoder_cpu - before.decoder_cpu;
    const double cpu_rate = double(events) / std::max(writer, decoder);
    std::printf("%12zu %12.0f %14.0f %10.2f %10.2f %8ld %s\n", totals.stored,
                double(events) / seconds(wall), cpu_rate, 1e6 * writer / double(events),
                1e6 * decoder / double(events), rss_kib("VmRSS:") / 1024, note);
    std::fflush(stdout);
    return cpu_rate;
  };
  Totals slice_start = totals;
  Clock::duration slice_time{};
  std::size_t slice_events = 0;
  const std::size_t prefill_slice = 1'000'000;
  for (std::size_t done = 0; done < o.prefill; done += o.chunk) {
    auto lines = generate(gen, std::min(o.chunk, o.prefill - done));
    if (!o.prefilled_store.empty()) {
      continue;  // already in the copied store: only the generator moves on
    }
    slice_time += ingest_chunk(store, lines, o, &totals);
    slice_events += lines.size();
    if (slice_events >= prefill_slice || done + o.chunk >= o.prefill) {
      report(slice_events, slice_time, slice_start, "(prefill)");
      slice_start = totals;
      slice_time = {};
      slice_events = 0;
    }
  }
  const auto before = store_bytes(path);
  const Totals measure_start = totals;
  Clock::duration measured{};
  // CPU of every thread over the measured part, less the generation of events.
  const double process_cpu0 = process_cpu_seconds();
  double generation_cpu = 0;
  for (std::size_t done = 0; done < o.measure; done += o.slice) {
    Clock::duration dt{};
    slice_start = totals;
    for (std::size_t c = 0; c < o.slice; c += o.chunk) {
      const double g0 = thread_cpu_seconds();
      auto lines = generate(gen, std::min(o.chunk, o.slice - c));
      generation_cpu += thread_cpu_seconds() - g0;
      dt += ingest_chunk(store, lines, o, &totals);
    }
    measured += dt;
    report(o.slice, dt, slice_start, "");
  }
  const double rate = double(o.measure) / seconds(measured);
  const double writer_cpu = totals.writer_cpu - measure_start.writer_cpu;
  const double decoder_cpu = totals.decoder_cpu - measure_start.decoder_cpu;
  const double cpu_rate = double(o.measure) / std::max(writer_cpu, decoder_cpu);
  const double all_cpu = process_cpu_seconds() - process_cpu0 - generation_cpu;
  // Close the store (its checkpoint thread with it), then fold the whole WAL into the file, so
  // that the size below is the store's, not a WAL that happened to be pending.
  opened->reset();
  {
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 10000);
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    }
    sqlite3_close(db);
  }
  const auto after = store_bytes(path);
  const std::size_t stored = totals.stored - measure_start.stored;
  std::printf(
      "ktrail, the %zu events after a prefill of %zu: %.0f events/s wall clock; %.0f "
      "events/s per CPU second of the busier thread (writer %.2f us/event, decoder %.2f "
      "us/event)\n",
      o.measure, o.prefill, rate, cpu_rate, 1e6 * writer_cpu / double(o.measure),
      1e6 * decoder_cpu / double(o.measure));
  std::printf(
      "all threads (writer, decoder, block compression, checkpoints): %.2f us of CPU per "
      "event; %u cores allow %.0f events/s\n",
      1e6 * all_cpu / double(o.measure), std::thread::hardware_concurrency(),
      double(std::thread::hardware_concurrency()) * double(o.measure) / all_cpu);
  std::printf(
      "stored %zu, duplicates %zu, rejected %zu; file %.1f MiB, %.0f bytes/event "
      "overall, %.0f bytes/event for the measured events\n",
      totals.stored, totals.duplicates, totals.rejected, double(after) / (1 << 20),
      double(after) / double(totals.stored),
      double(after - std::min(after, before)) / double(std::max<std::size_t>(stored, 1)));
  std::printf(
      "writer busy in write_batches %.0f%% of the measured wall time; %.0f events per "
      "transaction\n",
      100.0 * seconds(totals.writing - measure_start.writing) / seconds(measured),
      double(o.measure) / double(std::max<std::size_t>(totals.groups - measure_start.groups, 1)));
  std::printf("peak RSS %ld MiB (includes the %zu generated lines of a chunk)\n",
              rss_kib("VmHWM:") / 1024, o.chunk);
  return cpu_rate;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool skip_baseline = false;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") {
      o.dir = next();
    } else if (a == "--prefill") {
      o.prefill = std::stoull(next());
    } else if (a == "--measure") {
      o.measure = std::stoull(next());
    } else if (a == "--baseline-events") {
      o.baseline_events = std::stoull(next());
    } else if (a == "--batch") {
      o.batch = std::stoull(next());
    } else if (a == "--zstd-level") {
      o.zstd_level = std::stoi(next());
    } else if (a == "--wal-pages") {
      o.wal_pages = std::stoi(next());
    } else if (a == "--group-events") {
      o.group_events = std::stoull(next());
    } else if (a == "--queue-events") {
      o.queue_events = std::stoull(next());
    } else if (a == "--index-merge-rows") {
      o.index_merge_rows = std::stoull(next());
    } else if (a == "--page-size") {
      o.page_size = std::stoi(next());
    } else if (a == "--cache-mib") {
      o.cache_mib = std::stoi(next());
    } else if (a == "--full-sync") {
      o.full_sync = true;
    } else if (a == "--drop-index") {
      o.drop_indexes.push_back(next());
    } else if (a == "--prefilled-store") {
      o.prefilled_store = next();
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "--cluster") {
      o.cluster = next();
    } else if (a == "--skip-baseline") {
      skip_baseline = true;
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::filesystem::remove_all(o.dir);
  std::filesystem::create_directories(o.dir);
  std::printf("store_bench: %u cores\n", std::thread::hardware_concurrency());
  const double baseline = skip_baseline || o.baseline_events == 0 ? 0 : run_baseline(o);
  const double ours = run_ktrail(o);
  if (baseline > 0) {
    std::printf(
        "\nratio ktrail / baseline, events per CPU second (ktrail after its prefill, "
        "baseline's last slice at %zu stored): %.1fx\n",
        o.baseline_events, ours / baseline);
  }
  if (!keep) {
    std::filesystem::remove_all(o.dir);
  }
  return 0;
}
