// Correlation and incident-query benchmark (see BENCHMARKS.md, "Correlation and incident
// queries").
//
// (1) Overhead: the same stream (generated audit events plus Kubernetes Events from a real
//     OpenShift dump, replicated with shifted times and uids) is ingested into a fresh store
//     the way the pipeline does it (decode, batch of 400, Store::write_batch), once without and
//     once with the correlation stage. Runs alternate; the median of each is reported, and the
//     ratio. Generation is not timed (lines are made before the clock starts).
// (2) Queries: a large store (--store-events audit events over 7 days, plus 10% as many
//     Events and a few thousand incidents over 60 nodes) is built once in --dir, then
//     `incidents list` (all, and --open), one-day timelines of one node (audit on the Node,
//     Events about it or from its kubelet, its incidents), one pod and one namespace, with and
//     without a limit, are timed through the Store API, and, with --ktrail PATH, through the
//     real binary (process start included). With --ktrail-baseline PATH as well, each command
//     is also run with that binary (an older build), alternating with PATH run by run, so that
//     both are measured under the same load.
//
//     The store is kept: a later run with the same --dir and --store-events reuses it (and
//     migrates it when it was built by an older ktrail). --query-runs sets the repetitions.
//
// usage: correlate_bench [--dir D] [--events N] [--runs R] [--store-events N] [--ktrail PATH]
//                        [--ktrail-baseline PATH] [--skip-overhead] [--skip-query]
//                        [--request-response] [--query-runs N]
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/generator.h"
#include "core/audit_json.h"
#include "core/kube_event_json.h"
#include "processors/correlate/processor.h"
#include "storage/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace ktrail;

struct Options {
  std::string dir = "correlate-bench-data";
  std::size_t events = 200'000;
  int runs = 3;
  std::size_t store_events = 10'000'000;
  std::string ktrail;
  std::string ktrail_baseline;
  bool overhead = true;
  bool query = true;
  bool request_response = false;
  int query_runs = 20;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Real Events (the metal install dump), replicated: copy k shifts every time by k hours and
// makes uids and names unique, so each copy is new to the store and the correlator.
std::vector<std::string> event_lines(std::size_t wanted) {
  std::vector<KubeEvent> base;
  std::ifstream in(std::string(KTRAIL_SOURCE_DIR) +
                   "/tests/data/openshift-mustgather-metal-events.jsonl");
  DecodedKubeEvents decoded;
  for (std::string line; std::getline(in, line);) {
    decode_kube_event_line(line, &decoded);
  }
  std::vector<std::string> lines;
  for (std::size_t copy = 0; lines.size() < wanted; ++copy) {
    for (const auto& e : decoded.events) {
      if (lines.size() >= wanted) break;
      std::string json = e.json;
      const std::string tag = "-c" + std::to_string(copy);
      // Unique identity per copy: suffix the uid and the name.
      auto replace_first = [&](const std::string& from, const std::string& to) {
        auto at = json.find(from);
        if (at != std::string::npos) json.replace(at, from.size(), to);
      };
      replace_first("\"uid\":\"" + e.uid + "\"", "\"uid\":\"" + e.uid + tag + "\"");
      replace_first("\"name\":\"" + e.name + "\"", "\"name\":\"" + e.name + tag + "\"");
      // Shift times by `copy` hours: the dump is from 2021-09-14 14:xx; copies go on from there.
      for (const char* key : {"\"firstTimestamp\":\"2021-09-14T", "\"lastTimestamp\":\"2021-09-14T",
                              "\"creationTimestamp\":\"2021-09-14T"}) {
        std::size_t at = 0;
        const std::string k = key;
        while ((at = json.find(k, at)) != std::string::npos) {
          const std::size_t hour_at = at + k.size();
          const int hour = std::atoi(json.substr(hour_at, 2).c_str());
          const int day = 14 + static_cast<int>((hour + copy) / 24);
          char buf[16];
          std::snprintf(buf, sizeof buf, "%02d", static_cast<int>((hour + copy) % 24));
          json.replace(hour_at, 2, buf);
          char dbuf[16];
          std::snprintf(dbuf, sizeof dbuf, "%02d", std::min(day, 28));
          json.replace(hour_at - 3, 2, dbuf);
          at = hour_at;
        }
      }
      lines.push_back(std::move(json));
    }
  }
  return lines;
}

struct Stream {
  std::vector<std::string> audit;
  std::vector<std::string> events;
};

// One ingest of the stream into a fresh store; returns seconds.
double ingest(const Stream& stream, const std::string& path, bool correlate,
              std::size_t* incidents) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  auto store = Store::open(path, StoreOptions{});
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.status().to_string().c_str());
    std::exit(1);
  }
  correlate::CorrelateProcessor stage;
  constexpr std::size_t kBatch = 400;
  const auto t0 = Clock::now();
  // Audit and Events interleave: one Event line every audit/events audit lines.
  const std::size_t every = std::max<std::size_t>(
      1, stream.audit.size() / std::max<std::size_t>(1, stream.events.size()));
  std::size_t ai = 0, ei = 0;
  while (ai < stream.audit.size() || ei < stream.events.size()) {
    Batch b;
    DecodedAudit da;
    DecodedKubeEvents de;
    for (std::size_t n = 0; n < kBatch && (ai < stream.audit.size() || ei < stream.events.size());
         ++n) {
      if (ai < stream.audit.size() &&
          (ai % every != 0 || ei >= stream.events.size() || (ai / every) < ei)) {
        decode_audit_line(stream.audit[ai++], &da);
      } else {
        decode_kube_event_line(stream.events[ei++], &de);
      }
    }
    b.audit = std::move(da.events);
    b.events = std::move(de.events);
    if (correlate) {
      BatchOutcome outcome;
      stage.process(b, outcome);
    }
    auto w = (*store)->write_batch(b);
    if (!w) {
      std::fprintf(stderr, "write: %s\n", w.status().to_string().c_str());
      std::exit(1);
    }
    if (incidents != nullptr) *incidents += b.incidents.size();
  }
  if (correlate) {
    Batch last;
    stage.finish(last);
    (void)(*store)->write_batch(last);
  }
  return seconds_since(t0);
}

void run_overhead(const Options& o) {
  bench::GeneratorOptions g;
  g.request_response = o.request_response;
  // The audit events start where the Events do (2021-09-14T14:00:00Z), as one cluster's
  // streams would: correlation would otherwise set aside the Events as years away.
  g.start = 1631628000000000;
  bench::AuditGenerator gen(g);
  Stream stream;
  stream.audit.reserve(o.events);
  for (std::size_t i = 0; i < o.events; ++i) stream.audit.push_back(gen.next_line());
  stream.events = event_lines(o.events / 10);
  std::filesystem::create_directories(o.dir);
  const std::string path = o.dir + "/overhead.db";
  std::vector<double> base, corr;
  std::size_t incidents = 0;
  for (int r = 0; r < o.runs; ++r) {
    base.push_back(ingest(stream, path, false, nullptr));
    std::size_t n = 0;
    corr.push_back(ingest(stream, path, true, &n));
    incidents = n;
  }
  const double items = static_cast<double>(stream.audit.size() + stream.events.size());
  const double b = median(base), c = median(corr);
  std::printf("overhead: %zu audit (%s) + %zu Events, batch 400, %d runs each\n",
              stream.audit.size(), o.request_response ? "RequestResponse" : "Metadata",
              stream.events.size(), o.runs);
  std::printf("  without correlation: %.2f s  (%.0f items/s)\n", b, items / b);
  std::printf("  with correlation:    %.2f s  (%.0f items/s), %zu incident updates\n", c, items / c,
              incidents);
  std::printf("  ratio with/without:  %.3f  (+%.1f%%)\n", c / b, (c / b - 1) * 100);
}

void build_large_store(const Options& o, const std::string& path) {
  auto store = Store::open(path, StoreOptions{});
  if (!store) std::exit(1);
  bench::GeneratorOptions g;
  // 7 days over store_events: the mean spacing stretches the stream.
  g.mean_spacing =
      static_cast<Micros>(7LL * 86400 * kMicrosPerSecond / static_cast<long long>(o.store_events));
  g.duplicate_rate = 0;
  bench::AuditGenerator gen(g);
  const auto t0 = Clock::now();
  std::size_t written = 0;
  Micros last = g.start;
  std::uint64_t event_seq = 0;
  while (written < o.store_events) {
    Batch b;
    DecodedAudit da;
    for (int n = 0; n < 2000 && written < o.store_events; ++n, ++written) {
      decode_audit_line(gen.next_line(), &da);
    }
    b.audit = std::move(da.events);
    if (!b.audit.empty()) last = b.audit.back().stage_time;
    // 10% as many Events: kubelet Events from the 60 nodes, and some about the Nodes.
    for (int n = 0; n < 200; ++n, ++event_seq) {
      KubeEvent e;
      const int node = static_cast<int>(event_seq % 60);
      char host[64];
      std::snprintf(host, sizeof host, "ip-10-0-%d-%d.ec2.internal", node / 200, 10 + node % 200);
      e.uid = "ev-" + std::to_string(event_seq);
      e.namespace_ = event_seq % 10 == 0 ? "default" : "ns-" + std::to_string(event_seq % 40);
      e.name = "obj." + std::to_string(event_seq);
      e.object.kind = event_seq % 10 == 0 ? "Node" : "Pod";
      e.object.name =
          event_seq % 10 == 0 ? std::string(host) : "pod-" + std::to_string(event_seq % 5000);
      e.object.namespace_ = event_seq % 10 == 0 ? "" : e.namespace_;
      e.source_host = event_seq % 10 == 0 ? "" : host;
      e.source_component = "kubelet";
      e.reason = event_seq % 3 == 0 ? "BackOff" : "Pulled";
      e.message = "synthetic";
      e.first_time = e.last_time = last - (200 - n) * 1000;
      e.json = "{}";
      b.events.push_back(std::move(e));
    }
    // A few incidents: one per node every ~2 hours of stream time, closed 20 minutes later.
    if ((written / 2000) % 40 == 0) {
      for (int node = 0; node < 60; node += 7) {
        Incident i;
        i.kind = static_cast<IncidentKind>(node % 5);
        char host[64];
        std::snprintf(host, sizeof host, "ip-10-0-%d-%d.ec2.internal", node / 200, 10 + node % 200);
        i.node = host;
        i.key = "node/" + i.node;
        i.start = last;
        i.end = last + 20 * 60 * kMicrosPerSecond;
        if (written + 200000 > o.store_events) i.end.reset();  // the last ones still open
        i.id = make_incident_id(i.kind, i.key, i.start);
        i.title = "synthetic incident";
        i.objects = {"ns-1/pod-1", "ns-2/pod-2"};
        i.members = {{last, MemberSource::kEvent, "ev-" + std::to_string(event_seq), "BackOff",
                      "Pod/ns-1/pod-1", "synthetic"}};
        i.count = 1;
        b.incidents.push_back(std::move(i));
      }
    }
    auto w = (*store)->write_batch(b);
    if (!w) {
      std::fprintf(stderr, "write: %s\n", w.status().to_string().c_str());
      std::exit(1);
    }
  }
  auto counts = (*store)->counts();
  std::printf("query store: built %s in %.0f s: %lld audit, %lld Events, %lld incidents\n",
              path.c_str(), seconds_since(t0), static_cast<long long>(counts->audit),
              static_cast<long long>(counts->kube_events),
              static_cast<long long>(counts->incidents));
}

template <typename F>
void time_it(const char* what, int reps, F f) {
  std::vector<double> ms;
  std::size_t rows = 0;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    rows = f();
    ms.push_back(seconds_since(t0) * 1000);
  }
  std::printf("  %-58s median %7.2f ms  p95 %7.2f ms  (%zu rows)\n", what, median(ms),
              percentile(ms, 0.95), rows);
}

std::size_t run_cli(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  std::size_t lines = 0;
  char buf[65536];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) lines += std::count(buf, buf + n, '\n');
  pclose(p);
  return lines;
}

// One command line of ktrail (`args` after the binary), timed with `ktrail` and, when
// `baseline` is set, with that binary too: the two alternate run by run (which goes first
// alternates as well), so that both see the same load.
void time_cli(const char* what, int reps, const std::string& ktrail, const std::string& baseline,
              const std::string& args) {
  if (baseline.empty()) {
    time_it(what, reps, [&] { return run_cli("'" + ktrail + "' " + args); });
    return;
  }
  std::vector<double> ms[2];
  std::size_t rows[2] = {0, 0};
  const std::string* binaries[2] = {&baseline, &ktrail};
  for (int i = 0; i < reps; ++i) {
    for (int k = 0; k < 2; ++k) {
      const int which = (i + k) % 2;
      const auto t0 = Clock::now();
      rows[which] = run_cli("'" + *binaries[which] + "' " + args);
      ms[which].push_back(seconds_since(t0) * 1000);
    }
  }
  for (int which = 0; which < 2; ++which) {
    std::printf("  %-58s median %7.2f ms  p95 %7.2f ms  (%zu rows)%s\n", what,
                median(ms[which]), percentile(ms[which], 0.95), rows[which],
                which == 0 ? "  [baseline]" : "");
  }
}

// A timeline as `ktrail query timeline` asks the store for it (app/cmd_timeline.cpp).
struct Timeline {
  std::string label;
  std::string node;
  std::string pod;  // "namespace/name"
  std::string namespace_;
  std::size_t limit = 0;
};

struct TimelineFilters {
  AuditFilter audit;
  KubeEventFilter events;
  IncidentFilter incidents;
};

TimelineFilters filters_for(const Timeline& t, Micros since, Micros until) {
  TimelineFilters f;
  f.audit.since = f.events.since = f.incidents.since = since;
  f.audit.until = f.events.until = f.incidents.until = until;
  f.audit.limit = f.events.limit = f.incidents.limit = t.limit;
  if (!t.node.empty()) {
    f.audit.resource = "nodes";
    f.audit.name = f.events.node = f.incidents.node = t.node;
  }
  if (!t.pod.empty()) {
    const auto slash = t.pod.find('/');
    f.audit.resource = "pods";
    f.audit.name = f.events.object_name = t.pod.substr(slash + 1);
    f.audit.namespace_ = f.events.namespace_ = t.pod.substr(0, slash);
    f.incidents.pod = t.pod;
  }
  if (!t.namespace_.empty()) {
    f.audit.namespace_ = f.events.namespace_ = f.incidents.namespace_ = t.namespace_;
  }
  return f;
}

// Opens the store once for writing: builds it when missing, and brings a store built by an
// older ktrail to the current schema (a migration adds indexes), so the timed opens below are
// read-only opens of a current store.
void prepare_store(const Options& o, const std::string& path) {
  if (!std::filesystem::exists(path)) {
    build_large_store(o, path);
    return;
  }
  const auto t0 = Clock::now();
  auto store = Store::open(path, StoreOptions{});
  if (!store) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(), store.status().to_string().c_str());
    std::exit(1);
  }
  store->reset();
  std::printf("query store: reusing %s (writable open, schema migration included: %.1f s)\n",
              path.c_str(), seconds_since(t0));
}

void run_query(const Options& o) {
  std::filesystem::create_directories(o.dir);
  const std::string path = o.dir + "/large-" + std::to_string(o.store_events) + ".db";
  prepare_store(o, path);
  StoreOptions ro;
  ro.read_only = true;
  ro.cache_mib = 16;
  const std::string node = "ip-10-0-0-27.ec2.internal";
  const Micros day = 1772359200000000 + 3 * 86400 * kMicrosPerSecond;  // the fourth day
  const Micros day_end = day + 86400 * kMicrosPerSecond;
  const int reps = o.query_runs;
  std::printf("queries (Store API, each on a freshly opened read-only store, %d runs):\n", reps);
  auto open = [&] {
    auto s = Store::open(path, ro);
    if (!s) {
      std::fprintf(stderr, "open %s: %s\n", path.c_str(), s.status().to_string().c_str());
      std::exit(1);
    }
    return std::move(*s);
  };
  time_it("incidents list (all)", reps, [&] { return open()->find_incidents({})->size(); });
  time_it("incidents list --open", reps, [&] {
    IncidentFilter f;
    f.open_only = true;
    return open()->find_incidents(f)->size();
  });
  // Events of the bench store: pod-<k % 5000> in ns-<k % 40>; every incident names ns-1/pod-1.
  // Audit namespaces are the generator's (prod, ...), audit pod names are random.
  const std::vector<Timeline> timelines = {
      {"timeline --node N (one day, audit+Events+incidents)", node, "", "", 0},
      {"timeline --node N --limit 200", node, "", "", 200},
      {"timeline --pod ns-1/pod-1 (one day)", "", "ns-1/pod-1", "", 0},
      {"timeline --namespace ns-1 (one day, Events)", "", "", "ns-1", 0},
      {"timeline --namespace ns-1 --limit 200", "", "", "ns-1", 200},
      {"timeline --namespace prod --limit 200 (audit)", "", "", "prod", 200},
      {"timeline --namespace prod (one day, audit)", "", "", "prod", 0},
  };
  for (const Timeline& t : timelines) {
    const TimelineFilters f = filters_for(t, day, day_end);
    time_it(t.label.c_str(), reps, [&] {
      auto s = open();
      return s->find_audit(f.audit)->size() + s->find_kube_events(f.events)->size() +
             s->find_incidents(f.incidents)->size();
    });
  }
  // The parts of the node timeline alone, to show where its time goes.
  const TimelineFilters nf = filters_for(timelines[0], day, day_end);
  time_it("  node timeline: audit part", reps,
          [&] { return open()->find_audit(nf.audit)->size(); });
  time_it("  node timeline: Events part", reps,
          [&] { return open()->find_kube_events(nf.events)->size(); });
  time_it("  node timeline: incidents part", reps,
          [&] { return open()->find_incidents(nf.incidents)->size(); });
  if (!o.ktrail.empty()) {
    std::printf("queries (the ktrail binary, process start included, %d runs):\n", reps);
    const std::string db = " --db '" + path + "'";
    time_it("ktrail incidents list -o json", reps,
            [&] { return run_cli("'" + o.ktrail + "' incidents list -o json" + db); });
    const std::string window =
        " --since " + format_rfc3339(day) + " --until " + format_rfc3339(day_end) + " -o csv";
    const std::pair<const char*, std::string> commands[] = {
        {"ktrail query timeline --node N --limit 0 (a day)", "--node " + node + " --limit 0"},
        {"ktrail query timeline --node N (a day, default limit 200)", "--node " + node},
        {"ktrail query timeline --pod ns-1/pod-1 --limit 0 (a day)", "--pod ns-1/pod-1 --limit 0"},
        {"ktrail query timeline --namespace ns-1 --limit 0 (a day)", "--namespace ns-1 --limit 0"},
        {"ktrail query timeline --namespace prod (a day, limit 200)", "--namespace prod"},
    };
    const std::string& base = o.ktrail_baseline;
    for (const auto& [label, args] : commands) {
      time_cli(label, reps, o.ktrail, base, "query timeline " + args + window + db);
    }
    // The node timeline with the kubelet's heartbeats, every stage, and the Events query.
    time_cli("ktrail query timeline --node N --all --stages all --limit 0", reps, o.ktrail, base,
             "query timeline --node " + node + " --all --stages all --limit 0" + window + db);
    time_cli("ktrail query events --object Node/N --limit 0 (a day)", reps, o.ktrail, base,
             "query events --object Node/" + node + " --limit 0" + window + db);
    time_cli("ktrail query events -n ns-1 --reason BackOff (a day)", reps, o.ktrail, base,
             "query events -n ns-1 --reason BackOff --limit 0" + window + db);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--dir")
      o.dir = next();
    else if (a == "--events")
      o.events = std::stoull(next());
    else if (a == "--runs")
      o.runs = std::stoi(next());
    else if (a == "--store-events")
      o.store_events = std::stoull(next());
    else if (a == "--ktrail")
      o.ktrail = next();
    else if (a == "--ktrail-baseline")
      o.ktrail_baseline = next();
    else if (a == "--skip-overhead")
      o.overhead = false;
    else if (a == "--skip-query")
      o.query = false;
    else if (a == "--request-response")
      o.request_response = true;
    else if (a == "--query-runs")
      o.query_runs = std::max(1, std::stoi(next()));
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.overhead) run_overhead(o);
  if (o.query) run_query(o);
  return 0;
}
