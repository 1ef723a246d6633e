// Test harness for the correlator: feeds fixture files (audit JSON lines, Event JSON lines or
// watch lines) through decoding and correlation, and gathers the incident updates the way the
// store would (header replaced, members added by reference).
#pragma once

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/audit_json.h"
#include "core/incident.h"
#include "core/kube_event_json.h"
#include "processors/correlate/correlator.h"

namespace ktrail::testing {

enum class Feed { kAudit, kEvents };

struct Item {
  Micros time = 0;
  bool audit = false;
  AuditEvent a;
  KubeEvent e;
};

inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

// Decodes a file into items, counting rejected lines in `rejected`.
inline std::vector<Item> load_items(const std::string& path, Feed feed,
                                    std::size_t* rejected = nullptr) {
  std::vector<Item> items;
  for (const auto& line : read_lines(path)) {
    if (feed == Feed::kAudit) {
      DecodedAudit d;
      decode_audit_line(line, &d);
      for (auto& a : d.events) {
        Item it;
        it.audit = true;
        it.time = a.request_received;
        it.a = std::move(a);
        items.push_back(std::move(it));
      }
      if (rejected != nullptr) *rejected += d.rejected.size();
    } else {
      DecodedKubeEvents d;
      decode_kube_event_line(line, &d);
      for (auto& e : d.events) {
        Item it;
        it.time = e.last_time;
        it.e = std::move(e);
        items.push_back(std::move(it));
      }
      if (rejected != nullptr) *rejected += d.rejected.size();
    }
  }
  return items;
}

class Collector {
 public:
  void take(correlate::Correlator& c) {
    for (auto& update : c.take_updates()) {
      Incident& held = incidents_[update.id];
      std::vector<IncidentMember> members = std::move(held.members);
      for (auto& m : update.members) {
        bool found = false;
        for (auto& old : members) {
          if (old.ref == m.ref) {
            old = m;
            found = true;
          }
        }
        if (!found) members.push_back(m);
      }
      held = std::move(update);
      held.members = std::move(members);
    }
  }
  std::vector<Incident> all() const {
    std::vector<Incident> out;
    for (const auto& [id, i] : incidents_) out.push_back(i);
    return out;
  }
  std::vector<Incident> of_kind(IncidentKind kind) const {
    std::vector<Incident> out;
    for (const auto& [id, i] : incidents_) {
      if (i.kind == kind) out.push_back(i);
    }
    return out;
  }

 private:
  std::map<std::string, Incident> incidents_;
};

inline void feed(correlate::Correlator& c, const std::vector<Item>& items, Collector* col,
                 bool take_each = false) {
  for (const auto& it : items) {
    if (it.audit) {
      c.add(it.a);
    } else {
      c.add(it.e);
    }
    if (take_each) col->take(c);
  }
  c.flush();
  col->take(c);
}

inline std::string scenario(const std::string& name) {
  return std::string(KTRAIL_SOURCE_DIR) + "/tests/data/scenarios/" + name;
}

}  // namespace ktrail::testing
