// The correlator: a deterministic state machine over signals, driven by event time only.
//
// Items are offered in arrival order. Those that can carry a signal wait in a reorder buffer
// until event time (the latest time seen, the "watermark") has moved `reorder_window` past
// them, and are then read in (time, id) order, so any arrival order within the window gives the
// same incidents. An item older than the released horizon is read at once (counted as late).
// `flush()` releases everything, for the end of a replay.
//
// Incidents (see core/incident.h and docs/incidents.md for each kind's rules) are opened,
// extended and closed by these signals; time passing in event time closes quiet ones.
// `take_updates()` returns every incident changed since the last call, with only its new
// members, for the store to upsert.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/audit_event.h"
#include "core/incident.h"
#include "core/kube_event.h"
#include "processors/correlate/rules.h"
#include "processors/correlate/signals.h"

namespace ktrail::correlate {

struct CorrelatorStats {
  std::uint64_t signals = 0;
  std::uint64_t late_items = 0;      // arrived after the reorder window had passed them
  std::uint64_t quarantined = 0;     // implausibly far from event time: not correlated
  std::uint64_t clock_jumps = 0;     // the stream moved to another time (kClockJumpItems agreed)
  std::uint64_t early_releases = 0;  // read early because the buffer was full (count or bytes)
  std::uint64_t incidents_opened = 0;
  std::uint64_t incidents_closed = 0;
};

// One correlator sees the items of one cluster (core/cluster.h): its incidents carry that
// cluster and their IDs include it, and nothing of another cluster can join them.
class Correlator {
 public:
  explicit Correlator(Rules rules = {}, std::string cluster = "default");
  const std::string& cluster() const { return cluster_; }

  void add(const KubeEvent& event);
  void add(const AuditEvent& event);
  // Releases every buffered signal (end of a file or of a replay).
  void flush();
  // Moves event time on to `time` as an item of that time would, without one: the reorder
  // window releases what it has passed and quiet incidents close. For a stream split in parts
  // (Kafka partitions) whose part is quiet while the others go on. A time behind the watermark
  // changes nothing; one implausibly far ahead of it (Rules::max_time_jump) is ignored
  // (returns false).
  bool advance_to(Micros time);

  // Re-seeds an open incident read from the store (after a restart). Later signals append to
  // it; replaying stored events re-adds nothing twice. With its members, what the incident
  // waits on is rebuilt from them too, however long ago they came: a node's evicted pods and
  // which of them a replacement was recorded for (each replaced once), a scheduling group's
  // workloads and the pods of it not yet scheduled or deleted.
  void restore(Incident open_incident);

  std::vector<Incident> take_updates();
  // Every incident still held (open ones, and closed ones not yet taken).
  std::vector<Incident> incidents() const;
  Micros watermark() const { return watermark_; }
  // Items waiting in the reorder buffer (at most Rules::max_buffered), and their size (at most
  // Rules::max_buffered_bytes, give or take the last item).
  std::size_t buffered() const { return buffer_.size(); }
  std::size_t buffered_bytes() const { return buffered_bytes_; }
  const CorrelatorStats& stats() const { return stats_; }

 private:
  struct Held {
    Incident incident;
    std::set<std::string> objects;
    // node-not-ready: evicted "ns/pod" -> (workload key, eviction time)
    std::map<std::string, std::pair<std::string, Micros>> evicted;
    std::map<std::string, std::size_t> member_index;  // ref -> index in incident.members
    std::set<std::size_t> changed_members;            // updated in place since last taken
    std::set<std::string> replaced;                   // evicted pods whose replacement is known
    std::set<std::string> pending_pods;               // scheduling-failure: pods not yet scheduled
    std::map<std::string, int> causes;                // restart-storm: cause -> signals
    std::string cause_detail;                         // restart-storm: what the signal said
    std::map<std::string, std::int64_t> containers;   // restart-storm: container -> restarts
    std::int64_t restarts = 0;                        // restart-storm: restarts counted
    // scheduling-failure: the workloads of a group that started together ("ns/name" keys
    // besides incident.key map here too), and the latest start that joined it.
    std::set<std::string> workloads;
    Micros group_start = 0;
    Micros last_signal = 0;
    // node-not-ready, restart-storm: the start (or end) came from an Event's whole second; the
    // write it reports, when seen, gives the exact time.
    bool start_coarse = false;
    bool end_coarse = false;
    bool detached = false;  // left behind by a jump of the clock: handed over, then forgotten
    Micros last_eviction = 0;
    std::size_t members_taken = 0;
    bool dirty = false;
  };
  struct Candidate {
    std::deque<Signal> signals;  // restart/pull/scheduling signals not yet an incident
  };
  using Item = std::variant<KubeEvent, AuditEvent>;
  struct Outlier {
    Micros time = 0;
    std::string id;
    std::optional<Item> item;  // none for audit events that carry no signal
  };

  template <typename T>
  void offer(const T& item, Micros time, const std::string& id);
  void offer_item(const Item& item, Micros time, const std::string& id);
  // False (and the item set aside) when `time` is implausibly far from event time.
  bool plausible(Micros time, const std::string& id, const Item* item);
  void quarantine_outliers();
  void jump_clock();
  void read(const Item& item);
  void advance(Micros time);
  void release(Micros horizon);
  void apply(const Signal& s);
  void expire(Micros now);

  void on_node_not_ready(const Signal& s);
  void on_node_ready(const Signal& s);
  void on_taint_eviction(const Signal& s);
  void on_pod_scheduled(const Signal& s);
  void on_cordon(const Signal& s);
  void on_uncordon(const Signal& s);
  void on_pod_eviction(const Signal& s);
  void on_workload_signal(const Signal& s, IncidentKind kind);
  void on_restart_cause(const Signal& s);
  // A restart counted at an Event's whole second gets the exact time of the status write that
  // reports it within that second.
  void exact_restart_time(const std::string& key, const Signal& s);
  void on_image_pulled(const Signal& s);
  void on_pod_deleted(const Signal& s);
  // restore(): what a node-not-ready or scheduling-failure incident waits on, from its members.
  void restore_evictions(Held& held);
  void restore_group(Held& held);

  Held& open_incident(IncidentKind kind, const std::string& key, Micros start);
  void add_member(Held& held, const Signal& s);
  void close(Held& held, Micros end);
  void retitle(Held& held);
  Held* find_open(IncidentKind kind, const std::string& key);
  // An open scheduling-failure that started within SchedulingRules::group_window of `start`.
  Held* scheduling_group(Micros start);
  Held* reopen_if_same_episode(IncidentKind kind, const std::string& key, Micros time);
  // The last closed incident of (kind, key) if `time` falls within it (a late signal of an
  // episode already over joins it instead of starting another).
  Held* closed_episode(IncidentKind kind, const std::string& key, Micros time);
  Micros quiet_of(IncidentKind kind) const;
  std::string node_incident_for_pod(IncidentKind kind, const Signal& s);

  Rules rules_;
  std::string cluster_;
  SignalExtractor extractor_;
  std::multimap<std::pair<Micros, std::string>, Item> buffer_;
  std::size_t buffered_bytes_ = 0;
  Micros watermark_ = 0;
  Micros released_ = 0;               // every signal at or before this time has been applied
  std::map<std::string, Held> held_;  // by incident id
  std::map<std::pair<IncidentKind, std::string>, std::string> open_;  // (kind, key) -> id
  std::map<std::pair<IncidentKind, std::string>, Candidate> candidates_;
  // The last closed incident of each (kind, key), kept: a signal of the same episode that
  // arrives late (after event time closed it) joins or reopens it instead of starting a new
  // one.
  std::map<std::pair<IncidentKind, std::string>, std::string> recently_closed_;
  // node-not-ready incidents (open or closed) with evicted pods not yet replaced, within
  // replacementWindow: kept in held_ until then.
  std::set<std::string> awaiting_replacement_;
  std::map<std::string, Micros> recent_causes_time_;  // workload key -> last cause hint time
  std::map<std::string, std::string> recent_causes_;  // workload key -> last cause hint
  std::map<std::string, std::string> recent_detail_;  // workload key -> its words
  CorrelatorStats stats_;
  std::vector<Signal> scratch_;
  // Consecutive items far from event time (all within max_time_jump of the first of them).
  std::vector<Outlier> outliers_;
};

}  // namespace ktrail::correlate
