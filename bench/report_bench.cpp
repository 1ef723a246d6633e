// Compliance report benchmark (see BENCHMARKS.md, "Compliance reports").
//
// (a) write-path cost of the report rollups: the same generated batches written to two fresh
//     stores, one with the rollups (the default) and one without (StoreOptions::rollups = false),
//     alternating which goes first; writer CPU time per event of each (CLOCK_THREAD_CPUTIME_ID);
// (b) a store of --events generated events spread over the last --days days, then the real
//     `ktrail report compliance --since 30d` timed with -o json and -o html (wall clock, median
//     of --runs), beside the baseline: one section (Secret reads by identity and verb) answered
//     by scanning the stored events of the period, on the same file.
//
// usage: report_bench [--dir D] [--events N] [--days D] [--overhead-events N] [--runs R]
//                     [--keep]
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/generator.h"
#include "core/audit_json.h"
#include "storage/store.h"

namespace {

namespace fs = std::filesystem;
using WallClock = std::chrono::steady_clock;

struct Options {
  std::string dir = "report-bench-data";
  std::size_t events = 10'000'000;
  int days = 30;
  std::size_t overhead_events = 1'000'000;
  int runs = 5;
  std::size_t batch = 4000;
  bool keep = false;
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double seconds_since(WallClock::time_point t) {
  return std::chrono::duration<double>(WallClock::now() - t).count();
}

ktrail::Batch next_batch(ktrail::bench::AuditGenerator& gen, std::size_t n) {
  ktrail::DecodedAudit decoded;
  for (std::size_t i = 0; i < n; ++i) {
    ktrail::decode_audit_line(gen.next_line(), &decoded);
  }
  ktrail::Batch b;
  b.origin = "webhook 10.0.0.1:40000";
  b.audit = std::move(decoded.events);
  b.rejected = std::move(decoded.rejected);
  return b;
}

std::unique_ptr<ktrail::Store> open_store(const std::string& path, bool rollups) {
  ktrail::StoreOptions options;
  options.rollups = rollups;
  auto store = ktrail::Store::open(path, options);
  if (!store) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(), store.status().message().c_str());
    std::exit(1);
  }
  return std::move(*store);
}

void write_or_die(ktrail::Store& store, const ktrail::Batch& batch) {
  auto out = store.write_batch(batch);
  if (!out) {
    std::fprintf(stderr, "write: %s\n", out.status().message().c_str());
    std::exit(1);
  }
}

// (a) Writer CPU per event with and without the rollups, same batches, same run.
void measure_write_cost(const Options& o) {
  const std::string with_path = o.dir + "/with-rollups.db";
  const std::string without_path = o.dir + "/without-rollups.db";
  for (const auto& p : {with_path, without_path}) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      fs::remove(p + suffix);
    }
  }
  auto with = open_store(with_path, true);
  auto without = open_store(without_path, false);
  ktrail::bench::GeneratorOptions g;
  g.start = ktrail::SystemClock().now() - 86'400LL * 1'000'000;
  g.mean_spacing = 20'000;  // one day per ~4 M events: several days of rollups
  ktrail::bench::AuditGenerator gen(g);
  double cpu_with = 0;
  double cpu_without = 0;
  std::size_t written = 0;
  for (std::size_t i = 0; written < o.overhead_events; ++i) {
    const ktrail::Batch batch = next_batch(gen, o.batch);
    written += batch.audit.size();
    for (int k = 0; k < 2; ++k) {
      const bool rollups = (i + static_cast<std::size_t>(k)) % 2 == 0;
      const double t = thread_cpu_seconds();
      write_or_die(rollups ? *with : *without, batch);
      (rollups ? cpu_with : cpu_without) += thread_cpu_seconds() - t;
    }
  }
  const double n = static_cast<double>(written);
  std::printf("write path, %zu events each:\n", written);
  std::printf("  without rollups: %.3f us/event writer CPU\n", cpu_without / n * 1e6);
  std::printf("  with rollups:    %.3f us/event writer CPU (%+.1f%%)\n", cpu_with / n * 1e6,
              (cpu_with / cpu_without - 1) * 100);
  with.reset();
  without.reset();
  if (!o.keep) {
    for (const auto& p : {with_path, without_path}) {
      for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::remove(p + suffix);
      }
    }
  }
}

// (b) The report on a large store.
std::string build_large_store(const Options& o, ktrail::Micros* start) {
  const std::string path = o.dir + "/report-" + std::to_string(o.events) + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::remove(path + suffix);
  }
  auto store = open_store(path, true);
  const ktrail::Micros now = ktrail::SystemClock().now();
  const ktrail::Micros span = static_cast<ktrail::Micros>(o.days) * 86'400LL * 1'000'000 -
                              2LL * 3'600 * 1'000'000;  // the period, less an hour at each end
  ktrail::bench::GeneratorOptions g;
  *start = now - span - 3'600LL * 1'000'000;
  g.start = *start;
  g.mean_spacing = span / static_cast<ktrail::Micros>(o.events);
  ktrail::bench::AuditGenerator gen(g);
  const auto t0 = WallClock::now();
  std::size_t stored = 0;
  while (gen.produced() < o.events) {
    const ktrail::Batch batch =
        next_batch(gen, std::min<std::size_t>(o.batch, o.events - gen.produced()));
    auto out = store->write_batch(batch);
    if (!out) {
      std::fprintf(stderr, "write: %s\n", out.status().message().c_str());
      std::exit(1);
    }
    stored += out->stored;
    if (gen.produced() % 1'000'000 < o.batch) {
      std::fprintf(stderr, "  %zu events written (%.0f s)\n", gen.produced(), seconds_since(t0));
    }
  }
  std::printf("store: %zu events generated over %d days, %zu stored, %.0f s to write\n",
              gen.produced(), o.days, stored, seconds_since(t0));
  return path;
}

double run_report(const std::string& db, const char* format, const std::string& out) {
  const std::string cmd = std::string(KTRAIL_BINARY) + " report compliance --db " + db +
                          " --since 30d -o " + format + " --out " + out;
  const auto t = WallClock::now();
  const int rc = std::system(cmd.c_str());
  const double s = seconds_since(t);
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    std::fprintf(stderr, "failed: %s\n", cmd.c_str());
    std::exit(1);
  }
  return s;
}

// Secret reads by identity and verb over the period, by scanning the stored events: what a
// report without rollups does for each of its sections.
double scan_baseline(const std::string& db, ktrail::Micros since, std::int64_t* rows_out) {
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  const char* sql =
      "SELECT user_id, imp_user_id, verb_id, count(*), min(ts), max(ts) FROM audit "
      "WHERE ts >= ?1 AND resource_id = (SELECT id FROM dict WHERE value = 'secrets') "
      "AND verb_id IN (SELECT id FROM dict WHERE value IN ('get', 'list', 'watch')) "
      "AND stage = 2 GROUP BY 1, 2, 3";
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, sql, -1, &st, nullptr);
  sqlite3_bind_int64(st, 1, since);
  const auto t = WallClock::now();
  std::int64_t rows = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    ++rows;
  }
  const double s = seconds_since(t);
  sqlite3_finalize(st);
  sqlite3_close(h);
  *rows_out = rows;
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") {
      o.dir = next();
    } else if (a == "--events") {
      o.events = std::stoull(next());
    } else if (a == "--days") {
      o.days = std::stoi(next());
    } else if (a == "--overhead-events") {
      o.overhead_events = std::stoull(next());
    } else if (a == "--runs") {
      o.runs = std::max(1, std::stoi(next()));
    } else if (a == "--keep") {
      o.keep = true;
    } else {
      std::fprintf(stderr, "unknown option %s (see the header of bench/report_bench.cpp)\n",
                   a.c_str());
      return 2;
    }
  }
  fs::create_directories(o.dir);
  if (o.overhead_events > 0) {
    measure_write_cost(o);
  }
  if (o.events == 0) {
    return 0;
  }
  ktrail::Micros start = 0;
  const std::string db = build_large_store(o, &start);
  std::printf("store file: %.2f GB\n", static_cast<double>(fs::file_size(db)) / 1e9);
  for (const char* format : {"json", "html"}) {
    std::vector<double> times;
    for (int r = 0; r < o.runs; ++r) {
      times.push_back(run_report(db, format, o.dir + "/report." + format));
    }
    std::printf("ktrail report compliance --since 30d -o %s: median %.3f s, min %.3f s (%d runs), "
                "%ju bytes\n",
                format, median(times), *std::min_element(times.begin(), times.end()), o.runs,
                static_cast<std::uintmax_t>(fs::file_size(o.dir + "/report." + format)));
  }
  std::int64_t rows = 0;
  const double scan = scan_baseline(db, start - 1, &rows);
  std::printf("baseline, one section (secret reads) by scanning the events: %.3f s (%lld rows)\n",
              scan, static_cast<long long>(rows));
  if (!o.keep) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      fs::remove(db + suffix);
    }
  }
  return 0;
}
