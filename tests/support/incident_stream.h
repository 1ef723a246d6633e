// A stream of real incident signals for the Kafka tests: copies of the scenario fixtures
// (tests/data/scenarios/README.md), renamed and shifted in time so that several episodes land
// on different partitions. Every episode's signals share one message key, so a Kafka run with
// one correlator per partition must find exactly the incidents a single process finds:
//  - node drains from audit (cordon, evictions, uncordon: key actor/<user>) at 00:00-00:20 and
//    02:00-02:20, one after the other (a pod whose node is unknown joins "the only open drain");
//  - restart storms, 09:00-10:00, from Events and from the kubelet's pods/status patches (key
//    workload/<ns>/<workload>), of workloads whose keys cover every partition;
//  - node-not-ready episodes, 09:14-09:41, from the Events about the Node (key node/<name>), of
//    nodes whose keys cover every partition. The Events about its pods travel with their
//    workloads, to other partitions (docs/kafka.md, trade-offs), so they are left out;
//  - last, at 13:00, one Event per partition, so every partition's correlator sees event time
//    pass and closes its quiet incidents.
// A cut at 09:30 finds a storm and a node episode open in every partition.
#pragma once

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/audit_json.h"
#include "core/batch.h"
#include "core/kube_event_json.h"
#include "queue/kafka_keys.h"

namespace ktrail::testing {

struct StreamItem {
  Micros time = 0;
  std::optional<AuditEvent> audit;
  std::optional<KubeEvent> event;
};

struct IncidentStream {
  std::vector<StreamItem> items;  // time-ordered
  std::size_t audit_count = 0;

  // Items [from, to) as one batch.
  Batch batch(std::size_t from, std::size_t to) const {
    Batch b;
    b.origin = "incident stream";
    for (std::size_t i = from; i < std::min(to, items.size()); ++i) {
      if (items[i].audit) {
        b.audit.push_back(*items[i].audit);
      } else {
        b.events.push_back(*items[i].event);
      }
    }
    return b;
  }
  // Items [from, to) cut into batches of at most `max` items of one kind (audit or Events), so
  // that sending them batch by batch keeps the stream's time order whatever the sink does
  // first with a batch's audit events and Events.
  std::vector<std::pair<std::size_t, std::size_t>> batches(std::size_t from, std::size_t to,
                                                           std::size_t max) const {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    to = std::min(to, items.size());
    for (std::size_t i = from; i < to;) {
      std::size_t j = i + 1;
      while (j < to && j - i < max && items[j].audit.has_value() == items[i].audit.has_value()) {
        ++j;
      }
      out.emplace_back(i, j);
      i = j;
    }
    return out;
  }
  // The index of the first item at or after `t`.
  std::size_t index_of(Micros t) const {
    return static_cast<std::size_t>(
        std::find_if(items.begin(), items.end(), [&](const StreamItem& i) { return i.time >= t; }) -
        items.begin());
  }
};

inline std::vector<std::string> scenario_lines(const std::string& name) {
  std::ifstream in(std::string(KTRAIL_SOURCE_DIR) + "/tests/data/scenarios/" + name);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

using Renames = std::vector<std::pair<std::string, std::string>>;

// `line` with every `from` replaced by its `to`, then every RFC 3339 time moved by `shift`.
inline std::string variant(std::string line, const Renames& renames, Micros shift) {
  for (const auto& [from, to] : renames) {
    for (std::size_t at = line.find(from); at != std::string::npos;
         at = line.find(from, at + to.size())) {
      line.replace(at, from.size(), to);
    }
  }
  if (shift == 0) return line;
  static const std::regex kTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");
  std::string out;
  std::size_t last = 0;
  for (auto it = std::sregex_iterator(line.begin(), line.end(), kTime);
       it != std::sregex_iterator(); ++it) {
    out += line.substr(last, static_cast<std::size_t>(it->position()) - last);
    out += format_rfc3339(*parse_rfc3339(it->str()) + shift);
    last = static_cast<std::size_t>(it->position() + it->length());
  }
  return out + line.substr(last);
}

// Names "<stem>0", "<stem>1", ... whose keys ("<key_prefix><name>") cover every partition.
inline std::vector<std::string> covering_names(const std::string& key_prefix,
                                               const std::string& stem, std::int32_t partitions) {
  std::set<std::int32_t> covered;
  std::vector<std::string> names;
  for (int n = 0; covered.size() < static_cast<std::size_t>(partitions) && n < 500; ++n) {
    const std::string name = stem + std::to_string(n);
    if (covered.insert(*kafka::partition_for_key(key_prefix + name, partitions)).second) {
      names.push_back(name);
    }
  }
  return names;
}

inline IncidentStream incident_stream(std::int32_t partitions) {
  constexpr Micros kHour = 3'600'000'000LL;
  IncidentStream s;
  auto audit = [&](const std::string& file, const Renames& renames, Micros shift, bool pods_only) {
    for (const auto& line : scenario_lines(file)) {
      DecodedAudit d;
      decode_audit_line(variant(line, renames, shift), &d);
      for (auto& a : d.events) {
        if (pods_only && (!a.object_ref || a.object_ref->resource != "pods")) continue;
        const Micros t = a.request_received;
        s.items.push_back({t, std::move(a), std::nullopt});
        ++s.audit_count;
      }
    }
  };
  auto events = [&](const std::string& file, const Renames& renames, Micros shift,
                    bool nodes_only) {
    for (const auto& line : scenario_lines(file)) {
      DecodedKubeEvents d;
      decode_kube_event_line(variant(line, renames, shift), &d);
      for (auto& e : d.events) {
        if (nodes_only && e.object.kind != "Node") continue;
        const Micros t = e.last_time;
        s.items.push_back({t, std::nullopt, std::move(e)});
      }
    }
  };
  char prefix[40];
  // Drains: 09:00-10:30 in the fixture (bindings first).
  audit("node-drain.audit.jsonl", {{"a0000000-", "d1000000-"}}, -10 * kHour, false);
  audit("node-drain.audit.jsonl",
        {{"a0000000-", "d2000000-"},
         {"alice@example.com", "bob@example.com"},
         {"worker-2", "worker-5"}},
        -8 * kHour, false);
  int n = 0;
  for (const auto& workload : covering_names("workload/shop/", "web", partitions)) {
    std::snprintf(prefix, sizeof prefix, "s%07d-0000-4000-8000-", ++n);
    events("restart-storm.watch.jsonl",
           {{"00000000-0000-4000-8000-", prefix}, {"checkout", workload}}, 0, false);
    std::snprintf(prefix, sizeof prefix, "p%07d-0000-4000-8000-", n);
    audit("restart-storm.audit.jsonl",
          {{"a0000000-0000-4000-8000-", prefix}, {"checkout", workload}}, 0, true);
  }
  // Node episodes: 02:14-02:41 in the fixture.
  for (const auto& node : covering_names("node/", "node-", partitions)) {
    std::snprintf(prefix, sizeof prefix, "n%07d-0000-4000-8000-", ++n);
    events("node-not-ready.events.jsonl",
           {{"00000000-0000-4000-8000-", prefix}, {"worker-3", node}, {"worker-1", node + "-peer"}},
           7 * kHour, true);
  }
  for (const auto& node : covering_names("node/", "tick-", partitions)) {
    const std::string line = R"({"apiVersion":"v1","kind":"Event","metadata":{"name":")" + node +
                             R"(.1","namespace":"default","uid":")" + node +
                             R"("},"involvedObject":{"kind":"Node",)"
                             R"("name":")" +
                             node +
                             R"("},"reason":"Starting","message":"Starting kubelet.",)"
                             R"("source":{"component":"kubelet","host":")" +
                             node +
                             R"("},"type":"Normal","firstTimestamp":"2026-03-01T13:00:00Z",)"
                             R"("lastTimestamp":"2026-03-01T13:00:00Z","count":1})";
    DecodedKubeEvents d;
    decode_kube_event_line(line, &d);
    for (auto& e : d.events) s.items.push_back({e.last_time, std::nullopt, std::move(e)});
  }
  std::stable_sort(s.items.begin(), s.items.end(),
                   [](const StreamItem& a, const StreamItem& b) { return a.time < b.time; });
  return s;
}

// The final count of every Event uid of items [0, to) (Events updated in place repeat a uid).
inline std::map<std::string, std::int64_t> final_counts(const IncidentStream& s, std::size_t to) {
  std::map<std::string, std::int64_t> out;
  for (std::size_t i = 0; i < std::min(to, s.items.size()); ++i) {
    if (s.items[i].event) {
      auto& c = out[s.items[i].event->uid];
      c = std::max(c, s.items[i].event->count);
    }
  }
  return out;
}

}  // namespace ktrail::testing
