// Store write cost when many audit events share one stageTimestamp (see BENCHMARKS.md, "Events
// on one timestamp").
//
// The same generated events (bench/generator.h, decoded once, not timed) are written into a
// fresh store per case, in batches as the webhook sends them:
//   realistic  the generator's own timestamps (the normal write path);
//   K/ts       every K consecutive events given one stageTimestamp (a second apart), as in
//              second-precision logs or from a hostile client.
// Each case prints wall and CPU time per event (CPU of the whole process: the writer and the
// block compressor). Cases whose K exceeds --events are skipped.
//
// usage: crowded_time_bench [--dir D] [--events N] [--batch N] [--per-ts K]... [--rounds R]
#include <ctime>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "bench/generator.h"
#include "core/audit_json.h"
#include "storage/store.h"

namespace {

struct Options {
  std::string dir = "crowded-bench-data";
  std::size_t events = 200'000;
  std::size_t batch = 2000;
  std::vector<std::size_t> per_ts;  // 0: the realistic timestamps
  int rounds = 1;
};

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

int run_case(const Options& o, const std::vector<ktrail::AuditEvent>& events, std::size_t k,
             int round) {
  const std::string path = o.dir + "/case.db";
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + suffix);
  }
  auto store = ktrail::Store::open(path, ktrail::StoreOptions{});
  if (!store) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 1;
  }
  std::vector<ktrail::Batch> batches;
  for (std::size_t i = 0; i < events.size(); i += o.batch) {
    ktrail::Batch& b = batches.emplace_back();
    b.origin = "bench";
    for (std::size_t j = i; j < std::min(events.size(), i + o.batch); ++j) {
      ktrail::AuditEvent e = events[j];
      if (k > 0) {
        e.stage_time = events.front().stage_time + static_cast<ktrail::Micros>(j / k) * 1'000'000;
        e.request_received = e.stage_time;
      }
      b.audit.push_back(std::move(e));
    }
  }
  std::size_t stored = 0;
  const auto wall0 = std::chrono::steady_clock::now();
  const double cpu0 = cpu_seconds();
  for (const auto& b : batches) {
    auto outcome = (*store)->write_batch(b);
    if (!outcome) {
      std::fprintf(stderr, "%s\n", outcome.status().to_string().c_str());
      return 1;
    }
    stored += outcome->stored;
  }
  const double cpu = cpu_seconds() - cpu0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const std::string name = k == 0 ? "realistic" : std::to_string(k) + "/ts";
  if (std::getenv("CROWDED_BENCH_DISPLACED") != nullptr) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2((*store)->handle(), "SELECT count(*) FROM audit_displaced", -1, &stmt,
                       nullptr);
    std::fprintf(stderr, "displaced rows: %lld\n",
                 sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1LL);
    sqlite3_finalize(stmt);
  }
  std::printf("%-12s %5d %10zu %10zu %10.2f %10.2f %10.0f %10.2f\n", name.c_str(), round,
              events.size(), stored, wall, cpu, static_cast<double>(events.size()) / wall,
              1e6 * cpu / static_cast<double>(events.size()));
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") {
      o.dir = next();
    } else if (a == "--events") {
      o.events = std::strtoull(next(), nullptr, 10);
    } else if (a == "--batch") {
      o.batch = std::strtoull(next(), nullptr, 10);
    } else if (a == "--per-ts") {
      o.per_ts.push_back(std::strtoull(next(), nullptr, 10));
    } else if (a == "--rounds") {
      o.rounds = std::atoi(next());
    } else {
      std::fprintf(stderr,
                   "usage: crowded_time_bench [--dir D] [--events N] [--batch N] [--per-ts K]... "
                   "[--rounds R]\n");
      return 2;
    }
  }
  if (o.per_ts.empty()) {
    o.per_ts = {0, 2'500, 10'000, 100'000};
  }
  std::filesystem::create_directories(o.dir);
  ktrail::bench::GeneratorOptions g;
  g.duplicate_rate = 0;  // every event distinct: each case stores all of them
  ktrail::bench::AuditGenerator gen(g);
  ktrail::DecodedAudit decoded;
  while (decoded.events.size() < o.events) {
    ktrail::decode_audit_line(gen.next_line(), &decoded);
  }
  std::printf("%-12s %5s %10s %10s %10s %10s %10s %10s\n", "case", "round", "events", "stored",
              "wall s", "cpu s", "events/s", "cpu us/ev");
  for (int round = 1; round <= o.rounds; ++round) {
    for (std::size_t k : o.per_ts) {
      if (k > o.events) {
        continue;
      }
      if (int rc = run_case(o, decoded.events, k, round); rc != 0) {
        return rc;
      }
    }
  }
  std::filesystem::remove_all(o.dir);
  return 0;
}
