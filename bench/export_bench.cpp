// Export benchmark (see BENCHMARKS.md, "Exporting a large answer"): `ktrail query audit
// --limit 0` writing about --rows rows out of a large store, in each output format, timed from
// start to exit, with the peak resident memory of the ktrail process (wait4's ru_maxrss). With
// --before, an older ktrail binary runs the same commands in the same run, alternating with the
// new one, as the baseline.
//
// The store: --db, a store built with the existing generator, e.g.
//   bench/store_bench --dir D --prefill 10000000 --measure 10000 --skip-baseline --keep
// (D/ktrail.db holds 10 M events). The window is --since the stageTimestamp of the --rows-th most
// recent event, so the answer holds at least --rows events (a few more share that time).
//
// With --query timeline, `ktrail query timeline --limit 0` over the same window (audit rows,
// Events and incidents merged, one row per request) is measured instead. With --query
// incidents, `ktrail incidents list --limit 0` over the shards in the directory --db: when it
// holds no store yet, --rows synthetic incidents are written into --shards shards first (one in
// ten also in the next shard, as a partition that moved leaves it).
//
// usage: export_bench --db PATH [--rows N] [--runs N] [--formats csv,jsonl,json,table]
//                     [--ktrail PATH] [--before PATH] [--query audit|timeline|incidents]
//                     [--shards N]
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/time.h"
#include "storage/store.h"

namespace {

struct Options {
  std::string db;
  std::size_t rows = 1'000'000;
  int runs = 3;
  std::vector<std::string> formats = {"csv", "jsonl", "json", "table"};
  std::string ktrail = KTRAIL_BINARY;
  std::string before;
  std::string query = "audit";
  std::size_t shards = 4;
};

struct Run {
  double seconds = 0;
  // User + system CPU of the ktrail process: on a busy machine wall time also waits for a core.
  double cpu_seconds = 0;
  long max_rss_kb = 0;
  std::size_t bytes = 0;
  std::size_t lines = 0;
  std::size_t objects = 0;  // occurrences of `key` (one per row in json and jsonl)
  int status = -1;
};

// Runs `binary args...`, reading its stdout through a pipe (counting bytes and lines).
Run run(const std::string& binary, const std::vector<std::string>& args,
        const std::string& key) {
  Run r;
  int out[2];
  if (pipe(out) != 0) {
    return r;
  }
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    unsetenv("COLUMNS");
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  std::vector<char> buf(1 << 20);
  std::string tail;  // the end of the previous read, for a key split between reads
  ssize_t n;
  while ((n = read(out[0], buf.data(), buf.size())) > 0) {
    r.bytes += static_cast<std::size_t>(n);
    r.lines += static_cast<std::size_t>(std::count(buf.data(), buf.data() + n, '\n'));
    std::string chunk = tail + std::string(buf.data(), static_cast<std::size_t>(n));
    for (auto at = chunk.find(key); at != std::string::npos; at = chunk.find(key, at + 1)) {
      ++r.objects;
    }
    tail = chunk.substr(chunk.size() - std::min(chunk.size(), key.size() - 1));
  }
  close(out[0]);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.max_rss_kb = usage.ru_maxrss;
  r.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The stageTimestamp of the n-th most recent event.
long long nth_recent_time(const std::string& db, std::size_t n) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "cannot open %s\n", db.c_str());
    std::exit(1);
  }
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(h, "SELECT ts FROM audit ORDER BY key DESC LIMIT 1 OFFSET ?1", -1, &s,
                     nullptr);
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(n - 1));
  long long ts = -1;
  if (sqlite3_step(s) == SQLITE_ROW) {
    ts = sqlite3_column_int64(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  if (ts < 0) {
    std::fprintf(stderr, "%s holds fewer than %zu events\n", db.c_str(), n);
    std::exit(1);
  }
  return ts;
}

// Writes `n` incidents over `shards` stores in `dir` (a store per shard, batches of 10000).
void make_incident_shards(const std::string& dir, std::size_t n, std::size_t shards) {
  std::vector<std::unique_ptr<ktrail::Store>> stores;
  std::vector<ktrail::Batch> batches(shards);
  for (std::size_t s = 0; s < shards; ++s) {
    auto store = ktrail::Store::open(dir + "/shard-" + std::to_string(s) + ".db",
                                     ktrail::StoreOptions{});
    if (!store) {
      std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
      std::exit(1);
    }
    stores.push_back(std::move(*store));
  }
  auto flush = [&](std::size_t s) {
    if (!stores[s]->write_batch(batches[s]).is_ok()) {
      std::fprintf(stderr, "cannot write shard %zu\n", s);
      std::exit(1);
    }
    batches[s].incidents.clear();
  };
  const ktrail::Micros start = 1772323200LL * 1000000;  // 2026-03-01
  for (std::size_t i = 0; i < n; ++i) {
    ktrail::Incident x;
    x.kind = ktrail::IncidentKind::kRestartStorm;
    x.namespace_ = "ns-" + std::to_string(i % 97);
    x.workload = "app-" + std::to_string(i);
    x.workload_kind = "Deployment";
    x.key = x.namespace_ + "/" + x.workload;
    x.start = start + static_cast<ktrail::Micros>(i) * 7000000;
    x.end = x.start + 600000000;
    x.id = ktrail::make_incident_id(x.kind, x.key, x.start);
    x.title = "Deployment " + x.key + " restarting: container app, 6 restarts";
    x.cause = "liveness-probe";
    x.objects = {x.key + "-7d9f8b6c5-x2x9z", x.key + "-7d9f8b6c5-q8w4e"};
    for (int m = 0; m < 3; ++m) {
      ktrail::IncidentMember member;
      member.ref = x.id + "-" + std::to_string(m);
      member.time = x.start + m * 1000000;
      member.source = ktrail::MemberSource::kEvent;
      member.reason = "BackOff";
      member.object = "Pod/" + x.objects[0];
      member.message = "Back-off restarting failed container app";
      x.members.push_back(member);
    }
    x.count = 3;
    const std::size_t s = i % shards;
    if (i % 10 == 0 && shards > 1) {
      batches[(s + 1) % shards].incidents.push_back(x);
    }
    batches[s].incidents.push_back(std::move(x));
    for (std::size_t b = 0; b < shards; ++b) {
      if (batches[b].incidents.size() >= 10000) {
        flush(b);
      }
    }
  }
  for (std::size_t s = 0; s < shards; ++s) {
    flush(s);
  }
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) {
      out.push_back(text.substr(start, comma - start));
    }
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") {
      o.db = value();
    } else if (a == "--rows") {
      o.rows = std::stoull(value());
    } else if (a == "--runs") {
      o.runs = std::stoi(value());
    } else if (a == "--formats") {
      o.formats = split(value());
    } else if (a == "--ktrail") {
      o.ktrail = value();
    } else if (a == "--before") {
      o.before = value();
    } else if (a == "--query") {
      o.query = value();
    } else if (a == "--shards") {
      o.shards = std::stoull(value());
    } else {
      std::fprintf(stderr,
                   "usage: export_bench --db PATH [--rows N] [--runs N] [--formats LIST] "
                   "[--ktrail PATH] [--before PATH] [--query audit|timeline|incidents] "
                   "[--shards N]\n");
      return 2;
    }
  }
  if (o.db.empty() || o.rows == 0 || o.runs <= 0 ||
      (o.query != "audit" && o.query != "timeline" && o.query != "incidents") || o.shards == 0) {
    std::fprintf(stderr, "export_bench: --db is required; --rows and --runs must be positive\n");
    return 2;
  }
  std::vector<std::string> command;
  if (o.query == "incidents") {
    std::error_code ec;
    std::filesystem::create_directories(o.db, ec);
    if (std::filesystem::is_empty(o.db, ec)) {
      make_incident_shards(o.db, o.rows, o.shards);
    }
    std::printf("shards in %s, incidents list\n\n", o.db.c_str());
    command = {"incidents", "list", "--db", o.db, "--limit", "0"};
  } else {
    const std::string since = ktrail::format_rfc3339(nth_recent_time(o.db, o.rows));
    std::printf("store %s, query %s --since %s (at least %zu events)\n\n", o.db.c_str(),
                o.query.c_str(), since.c_str(), o.rows);
    command = {"query", o.query, "--db", o.db, "--since", since, "--limit", "0"};
  }
  std::printf(
      "| binary | -o | rows | MB out | median s | max s | median CPU s | max RSS MB | exit |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  std::vector<std::pair<std::string, std::string>> binaries = {{"new", o.ktrail}};
  if (!o.before.empty()) {
    binaries.insert(binaries.begin(), {"before", o.before});
  }
  for (const std::string& format : o.formats) {
    std::vector<std::vector<Run>> runs(binaries.size());
    for (int r = 0; r < o.runs; ++r) {
      for (std::size_t b = 0; b < binaries.size(); ++b) {
        std::vector<std::string> args = command;
        args.insert(args.end(), {"-o", format});
        runs[b].push_back(run(binaries[b].second, args,
                              o.query == "audit"      ? "\"auditID\":"
                              : o.query == "timeline" ? "\"ref\":"
                                                      : "\"workloadKind\":"));
      }
    }
    for (std::size_t b = 0; b < binaries.size(); ++b) {
      std::vector<double> secs;
      std::vector<double> cpu;
      long rss = 0;
      int status = 0;
      for (const Run& x : runs[b]) {
        secs.push_back(x.seconds);
        cpu.push_back(x.cpu_seconds);
        rss = std::max(rss, x.max_rss_kb);
        status = std::max(status, x.status);
      }
      std::sort(secs.begin(), secs.end());
      std::sort(cpu.begin(), cpu.end());
      const Run& last = runs[b].back();
      // Rows: csv and table have a header line; json and yaml are counted by their auditID keys.
      std::size_t rows = last.lines;
      if (format == "csv" || format == "table" || format == "wide") {
        rows = rows > 0 ? rows - 1 : 0;
      } else if (format == "json") {
        rows = last.objects;
      }
      std::printf("| %s | %s | %zu | %.1f | %.2f | %.2f | %.2f | %.1f | %d |\n",
                  binaries[b].first.c_str(), format.c_str(), rows,
                  static_cast<double>(last.bytes) / 1e6, secs[secs.size() / 2], secs.back(),
                  cpu[cpu.size() / 2], static_cast<double>(rss) / 1024.0, status);
      std::fflush(stdout);
    }
  }
  return 0;
}
