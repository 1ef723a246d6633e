// Replay benchmark: the real `ktrail ingest` command against the straightforward baseline, on
// the same generated audit log, in one run (see BENCHMARKS.md, "Replay through ktrail ingest").
//
// 1. Generates --prefill + --events Metadata-level events as JSON lines (two files, one
//    continuous stream of time), untimed.
// 2. ktrail: `ktrail ingest --db D prefill.jsonl` (untimed, fills the store so index growth is
//    part of the measurement), then `ktrail ingest --db D measure.jsonl`, timed as a whole
//    process: reading, decoding, processors (policy defaults, redaction) and the store.
//    Before it, `ktrail ingest` of an empty file on the same store times the fixed start-up
//    (opening the store, restoring correlation state), which the rate after start-up leaves out.
// 3. Baseline: BaselineStore (bench/baseline_store.h) parses and inserts the measured lines,
//    prefilled with --baseline-prefill events first (untimed).
// Prints events/s of each, the ratio, ktrail's peak RSS and its stored bytes per event.
//
// usage: ingest_bench [--binary PATH] [--dir D] [--prefill N] [--events N]
//                     [--baseline-prefill N] [--skip-baseline]
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/baseline_store.h"
#include "bench/generator.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Options {
  std::string binary = KTRAIL_BINARY;
  std::string dir = "ingest-bench-data";
  std::size_t prefill = 1'000'000;
  std::size_t events = 1'000'000;
  std::size_t baseline_prefill = 0;
  bool skip_baseline = false;
};

struct RunResult {
  double seconds = 0;
  long max_rss_kib = 0;
  int exit_code = -1;
};

// Runs a command to completion; returns its wall time and peak RSS.
RunResult run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  RunResult result;
  const auto start = Clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    std::perror("posix_spawn");
    return result;
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.max_rss_kib = usage.ru_maxrss;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

void write_lines(ktrail::bench::AuditGenerator& gen, std::size_t n, const std::string& path) {
  std::ofstream out(path);
  for (std::size_t i = 0; i < n; ++i) {
    out << gen.next_line() << '\n';
  }
}

// The first `n` lines of a file (all of them when n is 0).
std::vector<std::string> read_lines(const std::string& path, std::size_t n) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; (n == 0 || lines.size() < n) && std::getline(in, line);) {
    lines.push_back(std::move(line));
  }
  return lines;
}

std::uintmax_t size_of(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

bool parse_args(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--binary") {
      o->binary = next();
    } else if (a == "--dir") {
      o->dir = next();
    } else if (a == "--prefill") {
      o->prefill = std::stoull(next());
    } else if (a == "--events") {
      o->events = std::stoull(next());
    } else if (a == "--baseline-prefill") {
      o->baseline_prefill = std::stoull(next());
    } else if (a == "--skip-baseline") {
      o->skip_baseline = true;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return false;
    }
  }
  return o->events > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: ingest_bench [--binary PATH] [--dir D] [--prefill N] [--events N] "
                 "[--baseline-prefill N] [--skip-baseline]\n");
    return 2;
  }
  fs::remove_all(o.dir);
  fs::create_directories(o.dir);
  const std::string prefill_file = o.dir + "/prefill.jsonl";
  const std::string measure_file = o.dir + "/measure.jsonl";
  const std::string db = o.dir + "/ktrail.db";

  std::printf("generating %zu + %zu Metadata-level events...\n", o.prefill, o.events);
  // Nothing of the log is held in memory while ktrail runs: a spawned child shares this
  // process's memory until it execs, and would be charged for it in its peak RSS.
  ktrail::bench::AuditGenerator gen;
  write_lines(gen, o.prefill, prefill_file);
  write_lines(gen, o.events, measure_file);
  std::printf("measured file: %.1f MB, %.0f bytes/event\n", size_of(measure_file) / 1e6,
              static_cast<double>(size_of(measure_file)) / static_cast<double>(o.events));

  if (o.prefill > 0) {
    RunResult fill = run({o.binary, "ingest", "--db", db, "--progress", "never", prefill_file});
    if (fill.exit_code != 0) {
      std::fprintf(stderr, "prefill: ktrail ingest exited %d\n", fill.exit_code);
      return 1;
    }
    std::printf("prefill: %zu events in %.1f s (%.0f events/s)\n", o.prefill, fill.seconds,
                static_cast<double>(o.prefill) / fill.seconds);
  }
  const std::string empty_file = o.dir + "/empty.jsonl";
  std::ofstream(empty_file).close();
  RunResult startup = run({o.binary, "ingest", "--db", db, "--progress", "never", empty_file});
  if (startup.exit_code != 0) {
    std::fprintf(stderr, "start-up: ktrail ingest exited %d\n", startup.exit_code);
    return 1;
  }
  RunResult measured = run({o.binary, "ingest", "--db", db, "--progress", "never", measure_file});
  if (measured.exit_code != 0) {
    std::fprintf(stderr, "ktrail ingest exited %d\n", measured.exit_code);
    return 1;
  }
  const double ktrail_rate = static_cast<double>(o.events) / measured.seconds;
  const double total = static_cast<double>(o.prefill + o.events);
  std::printf(
      "ktrail ingest: %zu events into a store of %zu in %.2f s = %.0f events/s, "
      "peak RSS %.0f MB, stored %.0f bytes/event (db + wal)\n",
      o.events, o.prefill, measured.seconds, ktrail_rate, measured.max_rss_kib / 1024.0,
      static_cast<double>(size_of(db) + size_of(db + "-wal")) / total);
  if (startup.seconds < measured.seconds) {
    std::printf(
        "start-up (an empty file on the same store): %.2f s; after start-up %.0f events/s\n",
        startup.seconds, static_cast<double>(o.events) / (measured.seconds - startup.seconds));
  }
  if (o.skip_baseline) {
    return 0;
  }

  const std::string baseline_db = o.dir + "/baseline.db";
  auto baseline = ktrail::bench::BaselineStore::open(baseline_db);
  if (!baseline) {
    std::fprintf(stderr, "baseline: %s\n", baseline.status().to_string().c_str());
    return 1;
  }
  std::unique_ptr<ktrail::bench::BaselineStore> owned(*baseline);
  const std::size_t fill = std::min(o.baseline_prefill, o.prefill);
  if (fill > 0) {
    std::vector<std::string> head = read_lines(prefill_file, fill);
    if (auto r = owned->insert(head, 2000); !r) {
      std::fprintf(stderr, "baseline prefill: %s\n", r.status().to_string().c_str());
      return 1;
    }
  }
  const std::vector<std::string> measure_lines = read_lines(measure_file, 0);
  const auto start = Clock::now();
  auto inserted = owned->insert(measure_lines, 2000);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!inserted) {
    std::fprintf(stderr, "baseline: %s\n", inserted.status().to_string().c_str());
    return 1;
  }
  const double baseline_rate = static_cast<double>(o.events) / seconds;
  std::printf(
      "baseline: %zu events into a store of %zu in %.2f s = %.0f events/s, "
      "%.0f bytes/event\n",
      o.events, fill, seconds, baseline_rate,
      static_cast<double>(size_of(baseline_db) + size_of(baseline_db + "-wal")) /
          static_cast<double>(fill + o.events));
  std::printf("ratio ktrail ingest / baseline: %.2fx\n", ktrail_rate / baseline_rate);
  return 0;
}
