// Signal extraction: turns audit events and Kubernetes Events into the few facts correlation
// reasons about ("node X not ready", "pod P evicted by user U", "workload W restarted 3 more
// times"). Everything else is ignored here. The extractor keeps what it learns along the way
// (which node a pod runs on, which workload owns it, the last count of each Event, the last
// restart count of each container) so that updates in place count only what is new.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/audit_event.h"
#include "core/incident.h"
#include "core/kube_event.h"
#include "processors/carried_events.h"
#include "processors/correlate/workload.h"

namespace ktrail::correlate {

enum class SignalType : std::uint8_t {
  kNodeNotReady,      // Ready condition False/Unknown, NodeNotReady Event, NoExecute taint
  kNodeReady,         // Ready condition True, NodeReady Event, a NoExecute not-ready taint removed
  kPodNodeNotReady,   // a pod told its node is not ready (node-controller, on each pod)
  kTaintEviction,     // a pod marked for deletion or deleted by the taint-eviction controller
  kPodScheduled,      // a pod bound to a node (Scheduled Event, pods/binding)
  kCordon,            // spec.unschedulable true, NodeNotSchedulable
  kUncordon,          // spec.unschedulable false, NodeSchedulable, Uncordon
  kPodEviction,       // create of pods/eviction (a drain)
  kPodStopped,        // kubelet Killing on a node being drained (Events-only drains)
  kRestart,           // a container restarted (weight = how many more times)
  kRestartCause,      // a hint at why (failed liveness probe, OOMKilled, ...), weight 0
  kImagePullFailure,  // ErrImagePull, ImagePullBackOff, Back-off pulling image
  kImagePulled,       // the image was pulled after all
  kSchedulingFailed,  // FailedScheduling
  kPodDeleted,        // a pod is gone (delete pods; SuccessfulDelete "Deleted pod: X")
};

struct Signal {
  SignalType type = SignalType::kNodeReady;
  Micros time = 0;   // when it was (last) observed
  Micros first = 0;  // first observation (an Event updated in place spans first..time)
  std::int64_t weight = 1;
  std::string node;
  std::string namespace_;
  std::string pod;
  Workload workload;
  std::string actor;
  std::string cause;
  std::string container;  // the container a restart or its cause is about, when known
  std::string detail;     // restart cause as the signal says it (probe message, exit code)
  std::string target_node;  // kPodScheduled: where the pod went
  // The time has whole-second precision (an Event's lastTimestamp): what it reports happened
  // within the second after `time`.
  bool coarse = false;
  // kRestart or kRestartCause: the signal reports a restart (a status write with a higher
  // restartCount, a BackOff), even one another signal has counted already.
  bool reports_restart = false;
  IncidentMember member;
};

// The kubelet's shortest restart back-off: a container cannot restart more often than this,
// however often it reports BackOff while waiting.
constexpr Micros kMinRestartBackOff = 10 * kMicrosPerSecond;

struct ExtractorOptions {
  // Bounds on what the extractor remembers; the oldest half is forgotten past these.
  std::size_t max_pods = 1'000'000;
  std::size_t max_event_counts = 1'000'000;
};

class SignalExtractor {
 public:
  explicit SignalExtractor(ExtractorOptions options = {}) : options_(options) {}

  // False for audit events that cannot carry a signal (reads, other resources, failures):
  // a cheap test on decoded fields, so most traffic costs correlation nothing.
  static bool may_signal(const AuditEvent& event);

  // Appends the signals `event` carries (none for most Events).
  void from_event(const KubeEvent& event, std::vector<Signal>* out);
  void from_audit(const AuditEvent& event, std::vector<Signal>* out);

  // The node a pod ran on at `at` ("" when unknown), and its workload.
  std::string node_of(const std::string& ns, const std::string& pod, Micros at) const;
  Workload workload_of(const std::string& ns, const std::string& pod) const;

 private:
  struct PodInfo {
    // Where the pod ran, by time: a StatefulSet pod keeps its name across nodes, and signals
    // may arrive out of order, so the node is looked up at the signal's time.
    std::vector<std::pair<Micros, std::string>> nodes;
    void set_node(Micros at, const std::string& node);
    std::string node_at(Micros at) const;
    Workload owner;  // empty name until an owner reference or SuccessfulCreate names it
    // Restarts as told by BackOff Events and by pod status; one restart is often told both
    // ways, so what counts is the growth of the larger tally.
    std::int64_t backoffs = 0;
    std::int64_t status_restarts = 0;
    Micros last_backoff = 0;  // last BackOff report counted
  };
  // Records `more` restarts told by one source; returns how many are new overall.
  static std::int64_t add_restarts(PodInfo& info, bool from_status, std::int64_t more);
  void from_event_as(const KubeEvent& event, const IncidentMember& member,
                     std::vector<Signal>* out);
  PodInfo& pod(const std::string& ns, const std::string& name);
  std::int64_t count_delta(const std::string& uid, std::int64_t count);
  void trim();

  ExtractorOptions options_;
  std::unordered_map<std::string, PodInfo> pods_;               // "ns/name"
  std::unordered_map<std::string, std::int64_t> event_counts_;  // Event uid -> last count
  std::unordered_map<std::string, std::int64_t> restarts_;      // "ns/pod/container"
  // Node -> whether its last known taint list held a NoExecute not-ready/unreachable taint.
  std::unordered_map<std::string, bool> noexecute_tainted_;
  CarriedEvents carried_;  // Events inside audit events (processors/carried_events.h)
};

}  // namespace ktrail::correlate
