// Detection benchmark (see BENCHMARKS.md, "Detection").
//
// 1. Rule evaluation alone: generated audit events (Metadata mix and RequestResponse mix) are
//    decoded untimed, then Engine::evaluate runs over all of them on one thread, for the default
//    rules and for the default rules plus Falco's public k8s_audit rules. Prints events/s per
//    core. The peer in the same run is an engine with one trivial rule (the loop's own cost).
// 2. Cost on ingest: the real `ktrail ingest` on the same generated file, with
//    `--detect-rules none` and with the default rules plus Falco's rules, alternating runs,
//    each into a fresh store; compares CPU time (user + system) per event, the best of the runs
//    of each kind.
//
// usage: detect_bench [--events N] [--ingest-events N] [--runs N] [--dir D] [--skip-ingest]
//                     [--ktrail BINARY]   (another build's ktrail, to compare two versions)
//                     [--keep]            (keep the generated files in --dir)
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/generator.h"
#include "core/audit_json.h"
#include "detect/engine.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const std::string kFalcoLists = std::string(KTRAIL_SOURCE_DIR) +
                                "/tests/data/falco/falco_rules_k8s_lists_excerpt.yaml";
const std::string kFalcoRules = std::string(KTRAIL_SOURCE_DIR) +
                                "/tests/data/falco/k8s_audit_rules.yaml";

std::vector<ktrail::AuditEvent> events_of(bool request_response, std::size_t n) {
  ktrail::bench::GeneratorOptions options;
  options.request_response = request_response;
  ktrail::bench::AuditGenerator gen(options);
  ktrail::DecodedAudit decoded;
  for (std::size_t i = 0; i < n; ++i) {
    ktrail::decode_audit_line(gen.next_line(), &decoded);
  }
  return std::move(decoded.events);
}

std::unique_ptr<ktrail::detect::Engine> engine_of(const std::vector<std::string>& files) {
  ktrail::detect::Diagnostics diags;
  auto engine = ktrail::detect::Engine::load(files, &diags);
  if (!engine) {
    std::fprintf(stderr, "%s\n", diags.status().message().c_str());
    std::exit(1);
  }
  return engine;
}

std::unique_ptr<ktrail::detect::Engine> trivial_engine() {
  ktrail::detect::RuleSet set;
  ktrail::detect::Diagnostics diags;
  ktrail::detect::load_rules_text(
      "- rule: t\n  desc: d\n  condition: ka.verb=never\n  output: o\n  priority: INFO\n"
      "  source: k8s_audit\n",
      "trivial.yaml", &set, &diags);
  return ktrail::detect::Engine::compile(set, &diags);
}

// CPU time of this thread, seconds (the machine is shared: wall time would count others' work).
double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Best of `rounds` passes over `events`: events per CPU second, and findings per pass.
std::pair<double, std::size_t> evaluate(const ktrail::detect::Engine& engine,
                                        const std::vector<ktrail::AuditEvent>& events,
                                        int rounds) {
  double best = 0;
  std::size_t found = 0;
  std::vector<const ktrail::detect::CompiledRule*> matches;
  for (int r = 0; r < rounds; ++r) {
    found = 0;
    const double start = thread_cpu();
    for (const auto& e : events) {
      matches.clear();
      engine.evaluate(e, &matches);
      found += matches.size();
    }
    const double s = thread_cpu() - start;
    best = std::max(best, static_cast<double>(events.size()) / s);
  }
  return {best, found};
}

struct Usage {
  double cpu = 0;
  double wall = 0;
  int exit_code = -1;
};

Usage run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  Usage u;
  const auto start = Clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    std::perror("posix_spawn");
    return u;
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  u.wall = std::chrono::duration<double>(Clock::now() - start).count();
  u.cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
          static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  u.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return u;
}

void ingest_cost(const std::string& ktrail, const std::string& dir, bool request_response,
                 std::size_t n, int runs) {
  const std::string file = dir + (request_response ? "/rr.jsonl" : "/metadata.jsonl");
  {
    ktrail::bench::GeneratorOptions options;
    options.request_response = request_response;
    ktrail::bench::AuditGenerator gen(options);
    std::ofstream out(file);
    for (std::size_t i = 0; i < n; ++i) {
      out << gen.next_line() << '\n';
    }
  }
  double best_off = 1e300;
  double best_on = 1e300;
  for (int r = 0; r < runs; ++r) {
    for (bool on : {false, true}) {
      const std::string db = dir + "/run.db";
      for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::remove(db + suffix);
      }
      std::vector<std::string> args = {ktrail, "ingest", "--db", db, "--progress", "never"};
      if (on) {
        for (const std::string& f : {std::string("default"), kFalcoLists, kFalcoRules}) {
          args.push_back("--detect-rules");
          args.push_back(f);
        }
      } else {
        args.push_back("--detect-rules");
        args.push_back("none");
      }
      args.push_back(file);
      Usage u = run(args);
      if (u.exit_code != 0) {
        std::fprintf(stderr, "ktrail ingest exited %d\n", u.exit_code);
        std::exit(1);
      }
      std::printf("  %s run %d: cpu %.2f s, wall %.2f s\n", on ? "detection" : "no detection", r + 1,
                  u.cpu, u.wall);
      (on ? best_on : best_off) = std::min(on ? best_on : best_off, u.cpu);
    }
  }
  const double per_off = best_off / static_cast<double>(n) * 1e6;
  const double per_on = best_on / static_cast<double>(n) * 1e6;
  std::printf("ingest %s, %zu events: CPU per event %.2f us without detection, %.2f us with "
              "default + Falco rules: +%.1f %%\n",
              request_response ? "RequestResponse" : "Metadata", n, per_off, per_on,
              (per_on / per_off - 1) * 100);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 200000;
  std::size_t ingest_n = 200000;
  int runs = 3;
  std::string dir = "detect-bench-data";
  bool skip_ingest = false;
  std::string ktrail = KTRAIL_BINARY;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : "0"; };
    if (a == "--events") {
      n = std::stoull(next());
    } else if (a == "--ingest-events") {
      ingest_n = std::stoull(next());
    } else if (a == "--runs") {
      runs = std::stoi(next());
    } else if (a == "--dir") {
      dir = next();
    } else if (a == "--skip-ingest") {
      skip_ingest = true;
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "--ktrail") {
      ktrail = next();
    } else {
      std::fprintf(stderr,
                   "usage: detect_bench [--events N] [--ingest-events N] [--runs N] [--dir D] "
                   "[--skip-ingest] [--ktrail BINARY] [--keep]\n");
      return 2;
    }
  }
  auto defaults = engine_of({});
  auto with_falco = engine_of({"default", kFalcoLists, kFalcoRules});
  auto trivial = trivial_engine();
  std::printf("rules: default %zu, default + Falco %zu\n", defaults->rules().size(),
              with_falco->rules().size());
  for (bool rr : {false, true}) {
    auto events = events_of(rr, n);
    const char* mix = rr ? "RequestResponse" : "Metadata";
    auto [t, t_found] = evaluate(*trivial, events, 3);
    auto [d, d_found] = evaluate(*defaults, events, 3);
    auto [f, f_found] = evaluate(*with_falco, events, 3);
    std::printf("%s mix, %zu events, one thread (CPU time): one trivial rule %.0f events/s; "
                "default rules %.0f events/s (%.0f ns/event, %zu findings); default + Falco %.0f events/s "
                "(%.0f ns/event, %zu findings)\n",
                mix, events.size(), t, d, 1e9 / d, d_found, f, 1e9 / f, f_found);
    (void)t_found;
  }
  if (skip_ingest) {
    return 0;
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::printf("ingest with %s\n", ktrail.c_str());
  ingest_cost(ktrail, dir, false, ingest_n, runs);
  ingest_cost(ktrail, dir, true, ingest_n, runs);
  if (!keep) {
    fs::remove_all(dir);
  }
  return 0;
}
