// Webhook ack-latency benchmark (see BENCHMARKS.md, "Webhook ack latency").
//
// Starts the real `ktrail serve` on an ephemeral port with a fresh store, then offers load the
// way kube-apiserver's batching backend does: EventList bodies of --batch events (default 400),
// --rate batches per second (default 10, i.e. 4,000 events/s, one apiserver's default
// maximum), spread over --connections keep-alive connections. Open loop: each batch has a
// scheduled send time; latency is measured from the moment the request is written until the
// 200 arrives (and, to show queueing, also from the scheduled time).
//
// Baseline, same run and same batches: Store::write_batch called directly in this process
// (decode + one transaction, no HTTP, no queue), i.e. the floor the webhook cannot beat. The
// ratio says what HTTP, parsing on the I/O threads and the queue add.
//
// usage: http_load [--binary PATH] [--seconds S] [--rate R] [--batch N] [--connections C]
//                  [--request-response] [--dir D] [--serve-arg ARG ...]
// --serve-arg passes ARG to `ktrail serve` (repeatable), e.g. --serve-arg=--seal-after=1m
// --serve-arg=--partition=1m to measure the acks while the store seals; the segments written
// during the run are then counted from the store file.
#include <signal.h>
#include <sqlite3.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/generator.h"
#include "core/audit_json.h"
#include "storage/store.h"
#include "tests/support/http_client.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string binary = KTRAIL_BINARY;
  std::string dir = "http-load-data";
  double seconds = 30;
  double rate = 10;
  std::size_t batch = 400;
  int connections = 4;
  bool request_response = false;
  std::vector<std::string> serve_args;  // extra arguments for `ktrail serve`
};

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

long peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

void print_latencies(const char* what, const std::vector<double>& v) {
  std::printf("%-34s n=%zu p50=%.2f ms p90=%.2f ms p99=%.2f ms max=%.2f ms\n", what, v.size(),
              percentile(v, 50), percentile(v, 90), percentile(v, 99), percentile(v, 100));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--binary") {
      o.binary = next();
    } else if (a == "--seconds") {
      o.seconds = std::stod(next());
    } else if (a == "--rate") {
      o.rate = std::stod(next());
    } else if (a == "--batch") {
      o.batch = std::stoul(next());
    } else if (a == "--connections") {
      o.connections = std::stoi(next());
    } else if (a == "--dir") {
      o.dir = next();
    } else if (a == "--request-response") {
      o.request_response = true;
    } else if (a == "--serve-arg") {
      o.serve_args.push_back(next());
    } else if (a.rfind("--serve-arg=", 0) == 0) {
      o.serve_args.push_back(a.substr(std::string("--serve-arg=").size()));
    } else {
      std::fprintf(stderr, "usage: see the comment at the top of bench/http_load.cpp\n");
      return 2;
    }
  }
  std::filesystem::remove_all(o.dir);
  std::filesystem::create_directories(o.dir);

  // Bodies first, so generation is not timed.
  const auto batches = static_cast<std::size_t>(o.seconds * o.rate);
  ktrail::bench::GeneratorOptions gen_options;
  gen_options.request_response = o.request_response;
  ktrail::bench::AuditGenerator gen(gen_options);
  std::vector<std::string> bodies;
  std::size_t body_bytes = 0;
  for (std::size_t i = 0; i < batches; ++i) {
    bodies.push_back(gen.next_event_list(o.batch));
    body_bytes += bodies.back().size();
  }
  std::printf(
      "offered: %zu batches of %zu events, %.1f batches/s (%.0f events/s), %d "
      "connections, mean body %.0f KB\n",
      batches, o.batch, o.rate, o.rate * static_cast<double>(o.batch), o.connections,
      static_cast<double>(body_bytes) / static_cast<double>(batches) / 1024.0);

  // Baseline: the same batches, decoded and written directly.
  std::vector<double> baseline;
  {
    auto store = ktrail::Store::open(o.dir + "/baseline.db", {});
    if (!store) {
      std::fprintf(stderr, "baseline store: %s\n", store.status().to_string().c_str());
      return 1;
    }
    for (const auto& body : bodies) {
      const auto t0 = Clock::now();
      auto decoded = ktrail::decode_audit_document(body);
      ktrail::Batch b;
      b.audit = std::move(decoded->events);
      b.rejected = std::move(decoded->rejected);
      auto r = (*store)->write_batch(b);
      baseline.push_back(ms(Clock::now() - t0));
      if (!r) {
        std::fprintf(stderr, "baseline write: %s\n", r.status().to_string().c_str());
        return 1;
      }
    }
  }

  // The server.
  const std::string ready = o.dir + "/ready";
  std::vector<std::string> args = {
      o.binary,       "serve", "--listen",    "127.0.0.1:0", "--db", o.dir + "/serve.db",
      "--ready-file", ready,   "--log-level", "warn"};
  args.insert(args.end(), o.serve_args.begin(), o.serve_args.end());
  std::vector<char*> argv_c;
  for (auto& s : args) {
    argv_c.push_back(s.data());
  }
  argv_c.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, o.binary.c_str(), nullptr, nullptr, argv_c.data(), environ) != 0) {
    std::fprintf(stderr, "cannot start %s\n", o.binary.c_str());
    return 1;
  }
  std::string address;
  for (int i = 0; i < 3000 && address.empty(); ++i) {
    std::ifstream in(ready);
    std::getline(in, address);
    if (address.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (address.empty()) {
    std::fprintf(stderr, "server did not start\n");
    kill(pid, SIGKILL);
    return 1;
  }
  const auto port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));

  std::vector<double> ack;        // write -> 200
  std::vector<double> scheduled;  // scheduled send time -> 200
  std::mutex mutex;
  std::atomic<int> non200{0};
  std::atomic<int> errors{0};
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  const auto period = std::chrono::duration<double>(1.0 / o.rate);
  std::vector<std::thread> threads;
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      ktrail::testing::ClientOptions co;
      co.port = port;
      co.timeout = std::chrono::seconds(30);
      ktrail::testing::HttpClient http(co);
      for (std::size_t i = static_cast<std::size_t>(c); i < bodies.size();
           i += static_cast<std::size_t>(o.connections)) {
        const auto due =
            start + std::chrono::duration_cast<Clock::duration>(period * static_cast<double>(i));
        std::this_thread::sleep_until(due);
        const auto t0 = Clock::now();
        auto r = http.request("POST", "/audit?timeout=30s", bodies[i]);
        const auto t1 = Clock::now();
        if (!r.is_ok()) {
          ++errors;
          http.close();
          continue;
        }
        if (r->status != 200u) {
          ++non200;
          continue;
        }
        std::lock_guard lock(mutex);
        ack.push_back(ms(t1 - t0));
        scheduled.push_back(ms(t1 - due));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const long rss = peak_rss_kib(pid);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);

  std::printf("achieved: %.0f events/s acknowledged over %.1f s; non-200: %d, errors: %d\n",
              static_cast<double>(ack.size() * o.batch) / elapsed, elapsed, non200.load(),
              errors.load());
  print_latencies("baseline (direct write_batch):", baseline);
  print_latencies("ktrail serve ack (write -> 200):", ack);
  print_latencies("ktrail serve ack (scheduled -> 200):", scheduled);
  const double b99 = percentile(baseline, 99);
  const double b50 = percentile(baseline, 50);
  if (b50 > 0 && b99 > 0) {
    std::printf("ratio ack/baseline: p50 %.2fx, p99 %.2fx\n", percentile(ack, 50) / b50,
                percentile(ack, 99) / b99);
  }
  if (!o.serve_args.empty()) {
    sqlite3* db = nullptr;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_open_v2((o.dir + "/serve.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
            SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(count), 0) FROM segments", -1, &st,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      std::printf("segments written during the run: %lld, holding %lld events\n",
                  static_cast<long long>(sqlite3_column_int64(st, 0)),
                  static_cast<long long>(sqlite3_column_int64(st, 1)));
    } else {
      std::printf("segments written during the run: none (no segments table)\n");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  std::printf("server peak RSS: %.1f MB; exit %s\n", static_cast<double>(rss) / 1024.0,
              WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "0 (clean)" : "NOT clean");
  std::printf("target: p99 ack < 50 ms per %zu-event batch at %.0f events/s, RSS < 300 MB: %s\n",
              o.batch, o.rate * static_cast<double>(o.batch),
              percentile(ack, 99) < 50 && rss < 300 * 1024 && non200 == 0 && errors == 0
                  ? "MET"
                  : "NOT MET");
  return 0;
}
