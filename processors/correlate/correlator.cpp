#include "processors/correlate/correlator.h"

#include <algorithm>
#include <tuple>

#include "processors/correlate/workload.h"

namespace ktrail::correlate {
namespace {

std::string workload_key(const Signal& s) {
  if (s.workload.name.empty() || s.namespace_.empty()) {
    return "";
  }
  return s.namespace_ + "/" + s.workload.name;
}

std::string node_key(const std::string& node) { return "node/" + node; }

// "ns/workload" of a pod known only as "ns/name" (a restored incident's objects), read from
// its name as controllers generate it.
std::string workload_key_of_pod(const std::string& pod) {
  const auto slash = pod.find('/');
  if (slash == std::string::npos) {
    return "";
  }
  const Workload w = workload_from_pod_name(std::string_view(pod).substr(slash + 1));
  return w.name.empty() ? "" : pod.substr(0, slash) + "/" + w.name;
}

// The pod ("ns/name") a member's object names, when it is a pod or a pod's subresource: Events
// say "Pod/ns/name", audit events "pods/ns/name" or "pods/binding/ns/name".
std::string pod_of_member(const IncidentMember& m) {
  for (const char* prefix : {"Pod/", "pods/binding/", "pods/eviction/", "pods/"}) {
    const std::string_view p(prefix);
    if (m.object.compare(0, p.size(), p) == 0) {
      return m.object.substr(p.size());
    }
  }
  return "";
}

constexpr std::size_t kMaxRecentlyClosed = 100'000;

// What an item holds in the reorder buffer, near enough to bound memory by.
std::size_t item_bytes(const KubeEvent& e) {
  return sizeof(KubeEvent) + e.message.size() + e.uid.size() + e.name.size();
}
std::size_t item_bytes(const AuditEvent& a) {
  return sizeof(AuditEvent) + a.json.size() + a.request_uri.size() + a.user_agent.size();
}
std::size_t item_bytes(const std::variant<KubeEvent, AuditEvent>& item) {
  return std::visit([](const auto& x) { return item_bytes(x); }, item);
}

// When several causes are seen, the most specific one names the storm.
constexpr const char* kCausePriority[] = {"oom-killed",     "liveness-probe", "startup-probe",
                                          "init-container", "image-pull",     "non-zero-exit"};

}  // namespace

Correlator::Correlator(Rules rules, std::string cluster)
    : rules_(std::move(rules)), cluster_(std::move(cluster)) {}

void Correlator::add(const KubeEvent& event) {
  // An Event updated in place is ordered by its last observation, and told apart from its
  // earlier versions by the count.
  offer(event, event.last_time, event.uid + "#" + std::to_string(event.count));
}

void Correlator::add(const AuditEvent& event) {
  if (!SignalExtractor::may_signal(event)) {
    // Most audit traffic: it only moves time on.
    if (plausible(event.request_received, event.audit_id, nullptr)) {
      advance(event.request_received);
    }
    return;
  }
  offer(event, event.request_received, event.audit_id);
}

template <typename T>
void Correlator::offer(const T& item, Micros time, const std::string& id) {
  Item held(item);
  if (plausible(time, id, &held)) {
    offer_item(held, time, id);
  }
}

void Correlator::offer_item(const Item& item, Micros time, const std::string& id) {
  if (time <= released_) {
    ++stats_.late_items;
    read(item);
  } else {
    buffered_bytes_ += item_bytes(item);
    buffer_.emplace(std::make_pair(time, id), item);
    while (buffer_.size() > static_cast<std::size_t>(rules_.max_buffered) ||
           buffered_bytes_ > static_cast<std::size_t>(rules_.max_buffered_bytes)) {
      // Full: read the oldest now, as if the window had passed it.
      ++stats_.early_releases;
      release(buffer_.begin()->first.first);
    }
  }
  advance(time);
}

bool Correlator::plausible(Micros time, const std::string& id, const Item* item) {
  const Micros jump = rules_.max_time_jump;
  if (watermark_ == 0 || (time <= watermark_ + jump && time >= watermark_ - jump)) {
    quarantine_outliers();  // the stream went on where it was: those were strays
    return true;
  }
  if (!outliers_.empty() &&
      (time > outliers_.front().time + jump || time < outliers_.front().time - jump)) {
    quarantine_outliers();  // strays that do not agree with each other
  }
  Outlier o;
  o.time = time;
  o.id = id;
  if (item != nullptr) {
    o.item = *item;
  }
  outliers_.push_back(std::move(o));
  if (outliers_.size() >= kClockJumpItems) {
    jump_clock();
  }
  return false;
}

void Correlator::quarantine_outliers() {
  stats_.quarantined += outliers_.size();
  outliers_.clear();
}

void Correlator::jump_clock() {
  // What was buffered belongs to the stream before the jump. Forward, event time has passed
  // every quiet period; either way, what is still open there is left as it is (the store keeps
  // it open) and the correlator starts over, as on a fresh start.
  release(watermark_);
  if (outliers_.front().time > watermark_) {
    expire(outliers_.front().time);
  }
  for (auto& [id, h] : held_) {
    h.detached = h.incident.open();
  }
  open_.clear();
  candidates_.clear();
  recently_closed_.clear();
  awaiting_replacement_.clear();
  recent_causes_.clear();
  recent_causes_time_.clear();
  recent_detail_.clear();
  watermark_ = 0;
  released_ = 0;
  ++stats_.clock_jumps;
  std::vector<Outlier> run = std::move(outliers_);
  outliers_.clear();
  for (const Outlier& o : run) {
    if (o.item) {
      offer_item(*o.item, o.time, o.id);
    } else {
      advance(o.time);
    }
  }
}

void Correlator::read(const Item& item) {
  scratch_.clear();
  if (const auto* e = std::get_if<KubeEvent>(&item)) {
    extractor_.from_event(*e, &scratch_);
  } else {
    extractor_.from_audit(std::get<AuditEvent>(item), &scratch_);
  }
  for (const auto& s : scratch_) {
    ++stats_.signals;
    expire(s.time);
    apply(s);
  }
}

void Correlator::advance(Micros time) {
  if (time > watermark_) {
    watermark_ = time;
  }
  release(watermark_ - rules_.reorder_window);
}

bool Correlator::advance_to(Micros time) {
  if (watermark_ != 0 && time > watermark_ + rules_.max_time_jump) {
    return false;
  }
  if (time > watermark_) {
    advance(time);
  }
  return true;
}

void Correlator::flush() {
  quarantine_outliers();  // too few to be the stream moving
  release(watermark_);
}

void Correlator::release(Micros horizon) {
  while (!buffer_.empty() && buffer_.begin()->first.first <= horizon) {
    auto node = buffer_.extract(buffer_.begin());
    buffered_bytes_ -= item_bytes(node.mapped());
    expire(node.key().first);
    read(node.mapped());
  }
  if (horizon > released_) {
    released_ = horizon;
  }
  expire(released_);
}

void Correlator::apply(const Signal& s) {
  switch (s.type) {
    case SignalType::kNodeNotReady:
      on_node_not_ready(s);
      break;
    case SignalType::kNodeReady:
      on_node_ready(s);
      break;
    case SignalType::kPodNodeNotReady:
      // The node controller tells every pod of the node; only the pods it deletes are the
      // incident's objects.
      if (Held* h = find_open(IncidentKind::kNodeNotReady, node_key(s.node)); h != nullptr) {
        add_member(*h, s);
      }
      break;
    case SignalType::kTaintEviction:
      on_taint_eviction(s);
      break;
    case SignalType::kPodScheduled:
      on_pod_scheduled(s);
      break;
    case SignalType::kCordon:
      on_cordon(s);
      break;
    case SignalType::kUncordon:
      on_uncordon(s);
      break;
    case SignalType::kPodEviction:
      on_pod_eviction(s);
      break;
    case SignalType::kPodStopped:
      if (Held* h = find_open(IncidentKind::kNodeDrain, node_key(s.node));
          h != nullptr ||
          (h = closed_episode(IncidentKind::kNodeDrain, node_key(s.node), s.time)) != nullptr) {
        add_member(*h, s);
        h->objects.insert(s.namespace_ + "/" + s.pod);
        retitle(*h);
      }
      break;
    case SignalType::kRestart:
      on_workload_signal(s, IncidentKind::kRestartStorm);
      break;
    case SignalType::kRestartCause:
      on_restart_cause(s);
      break;
    case SignalType::kImagePullFailure:
      on_workload_signal(s, IncidentKind::kImagePullFailure);
      break;
    case SignalType::kImagePulled:
      on_image_pulled(s);
      break;
    case SignalType::kSchedulingFailed:
      on_workload_signal(s, IncidentKind::kSchedulingFailure);
      break;
    case SignalType::kPodDeleted:
      on_pod_deleted(s);
      break;
  }
}

Correlator::Held* Correlator::find_open(IncidentKind kind, const std::string& key) {
  auto it = open_.find({kind, key});
  if (it == open_.end()) {
    return nullptr;
  }
  return &held_.at(it->second);
}

Correlator::Held* Correlator::scheduling_group(Micros start) {
  for (const auto& [kk, id] : open_) {
    if (kk.first != IncidentKind::kSchedulingFailure) {
      continue;
    }
    Held& h = held_.at(id);
    if (start >= h.group_start - rules_.scheduling_failure.group_window &&
        start <= h.group_start + rules_.scheduling_failure.group_window) {
      return &h;
    }
  }
  return nullptr;
}

Correlator::Held& Correlator::open_incident(IncidentKind kind, const std::string& key,
                                            Micros start) {
  const std::string id = make_incident_id(kind, key, start, cluster_);
  Held& h = held_[id];
  h.incident.id = id;
  h.incident.cluster = cluster_;
  h.incident.kind = kind;
  h.incident.key = key;
  h.incident.start = start;
  h.incident.end.reset();
  h.dirty = true;
  open_[{kind, key}] = id;
  ++stats_.incidents_opened;
  return h;
}

void Correlator::add_member(Held& h, const Signal& s) {
  auto [it, fresh] = h.member_index.try_emplace(s.member.ref, h.incident.members.size());
  if (fresh) {
    h.incident.members.push_back(s.member);
  } else {
    // The same Event updated in place, or a second signal of one audit event.
    IncidentMember& m = h.incident.members[it->second];
    if (s.member.time > m.time) {
      m.time = s.member.time;
      m.message = s.member.message;
      h.changed_members.insert(it->second);
    }
  }
  h.incident.count = static_cast<std::int64_t>(h.incident.members.size());
  if (h.incident.actor.empty() && !s.actor.empty() &&
      (s.type == SignalType::kCordon || s.type == SignalType::kPodEviction ||
       s.type == SignalType::kUncordon)) {
    h.incident.actor = s.actor;
  }
  h.dirty = true;
}

void Correlator::close(Held& h, Micros end) {
  h.incident.end = std::max(end, h.incident.start);
  open_.erase({h.incident.kind, h.incident.key});
  for (const auto& w : h.workloads) {
    auto it = open_.find({h.incident.kind, w});
    if (it != open_.end() && it->second == h.incident.id) {
      open_.erase(it);
    }
  }
  recently_closed_[{h.incident.kind, h.incident.key}] = h.incident.id;
  h.dirty = true;
  ++stats_.incidents_closed;
  retitle(h);
}

Micros Correlator::quiet_of(IncidentKind kind) const {
  switch (kind) {
    case IncidentKind::kRestartStorm:
      return rules_.restart_storm.quiet;
    case IncidentKind::kImagePullFailure:
      return rules_.image_pull_failure.quiet;
    case IncidentKind::kSchedulingFailure:
      return rules_.scheduling_failure.quiet;
    default:
      return 0;
  }
}

void Correlator::expire(Micros now) {
  // Quiet workload incidents close at their last signal once the quiet period has passed.
  std::set<Held*> to_close;  // a group is open under each of its workloads
  for (const auto& [kk, id] : open_) {
    const Micros quiet = quiet_of(kk.first);
    Held& h = held_.at(id);
    if (quiet > 0 && now - h.last_signal > quiet) {
      to_close.insert(&h);
    }
  }
  for (Held* h : to_close) {
    close(*h, h->last_signal);
  }
  for (auto it = awaiting_replacement_.begin(); it != awaiting_replacement_.end();) {
    auto held = held_.find(*it);
    const bool over = held == held_.end() ||
                      now - held->second.last_eviction > rules_.node_not_ready.replacement_window;
    it = over ? awaiting_replacement_.erase(it) : std::next(it);
  }
  if (recently_closed_.size() > kMaxRecentlyClosed) {
    recently_closed_.clear();  // a bound on memory; late reopening is best effort
  }
}

Correlator::Held* Correlator::closed_episode(IncidentKind kind, const std::string& key,
                                             Micros time) {
  auto it = recently_closed_.find({kind, key});
  if (it == recently_closed_.end()) {
    return nullptr;
  }
  auto held = held_.find(it->second);
  if (held == held_.end() || held->second.incident.open()) {
    return nullptr;
  }
  const Incident& i = held->second.incident;
  if (time < i.start || time > *i.end + rules_.reorder_window) {
    return nullptr;
  }
  return &held->second;
}

Correlator::Held* Correlator::reopen_if_same_episode(IncidentKind kind, const std::string& key,
                                                     Micros time) {
  auto it = recently_closed_.find({kind, key});
  if (it == recently_closed_.end()) {
    return nullptr;
  }
  auto held = held_.find(it->second);
  if (held == held_.end() || held->second.incident.open() ||
      time - held->second.last_signal > quiet_of(kind) || time < held->second.incident.start) {
    return nullptr;
  }
  Held& h = held->second;
  h.incident.end.reset();
  h.dirty = true;
  open_[{kind, key}] = h.incident.id;
  recently_closed_.erase(it);
  ++stats_.incidents_opened;
  return &h;
}

void Correlator::retitle(Held& h) {
  Incident& i = h.incident;
  i.objects.assign(h.objects.begin(), h.objects.end());
  const std::string workload =
      (i.workload_kind.empty() ? std::string("workload") : i.workload_kind) + " " + i.namespace_ +
      "/" + i.workload;
  const std::string pods =
      std::to_string(h.objects.size()) + " pod" + (h.objects.size() == 1 ? "" : "s");
  switch (i.kind) {
    case IncidentKind::kNodeNotReady:
      i.title = "node " + i.node + " not ready";
      if (!h.evicted.empty()) {
        i.title += ", " + std::to_string(h.evicted.size()) + " pod" +
                   (h.evicted.size() == 1 ? "" : "s") + " evicted";
      }
      break;
    case IncidentKind::kRestartStorm: {
      i.cause.clear();
      for (const char* c : kCausePriority) {
        if (h.causes.count(c) != 0) {
          i.cause = c;
          break;
        }
      }
      // Restarts, not member rows: one Event updated in place reports many.
      if (h.restarts > 0) {
        i.count = h.restarts;
      }
      std::string container;
      std::int64_t most = 0;
      for (const auto& [name, n] : h.containers) {
        if (!name.empty() && n > most) {
          container = name;
          most = n;
        }
      }
      i.title = workload + " restarting" +
                (container.empty() ? std::string() : ": container " + container) + ", " +
                std::to_string(i.count) + " restart" + (i.count == 1 ? "" : "s") + " (" +
                (i.cause.empty() ? "cause unknown" : i.cause) +
                (h.cause_detail.empty() ? "" : ": " + h.cause_detail) + "), " + pods;
      break;
    }
    case IncidentKind::kNodeDrain:
      i.title = "node " + i.node + " drained" + (i.actor.empty() ? "" : " by " + i.actor) + ", " +
                pods + " evicted";
      break;
    case IncidentKind::kImagePullFailure:
      i.title = workload + " cannot pull its image, " + pods;
      break;
    case IncidentKind::kSchedulingFailure:
      if (h.workloads.size() > 1) {
        std::string names;
        std::size_t listed = 0;
        for (const auto& w : h.workloads) {
          if (listed++ == 5) {
            names += ", +" + std::to_string(h.workloads.size() - 5) + " more";
            break;
          }
          names += (names.empty() ? "" : ", ") + w;
        }
        i.title = std::to_string(h.workloads.size()) + " workloads cannot be scheduled (" +
                  names + "), " + pods;
      } else {
        i.title = workload + " cannot be scheduled, " + pods;
      }
      break;
  }
}

void Correlator::on_node_not_ready(const Signal& s) {
  if (!rules_.node_not_ready.enabled || s.node.empty()) {
    return;
  }
  Held* h = find_open(IncidentKind::kNodeNotReady, node_key(s.node));
  if (h == nullptr) {
    // A late report of an episode already over joins it. After its end, only a taint still on
    // the node (the controller removes it a few seconds after the kubelet's Ready) does: a
    // Ready condition that is not True again is another failure.
    Held* done = closed_episode(IncidentKind::kNodeNotReady, node_key(s.node), s.time);
    if (done != nullptr && (s.time <= *done->incident.end || s.cause == "taint")) {
      h = done;
    }
  }
  if (h == nullptr) {
    h = &open_incident(IncidentKind::kNodeNotReady, node_key(s.node), s.time);
    h->incident.node = s.node;
    h->start_coarse = s.coarse;
  } else if (h->start_coarse && !s.coarse && s.time >= h->incident.start &&
             s.time < h->incident.start + kMicrosPerSecond) {
    // An Event's whole second, then the write it reports: the write is the exact start.
    h->incident.start = s.time;
    h->start_coarse = false;
  }
  add_member(*h, s);
  retitle(*h);
}

void Correlator::on_node_ready(const Signal& s) {
  Held* h = find_open(IncidentKind::kNodeNotReady, node_key(s.node));
  if (h == nullptr) {
    if (Held* done = closed_episode(IncidentKind::kNodeNotReady, node_key(s.node), s.time);
        done != nullptr) {
      add_member(*done, s);  // the same recovery, told by another source
      Incident& i = done->incident;
      if (done->end_coarse && !s.coarse && s.time >= *i.end && s.time < *i.end + kMicrosPerSecond) {
        i.end = s.time;  // the kubelet's write the Event of that second reports
        done->end_coarse = false;
      }
    }
    return;
  }
  add_member(*h, s);
  close(*h, s.time);
  h->end_coarse = s.coarse;
}

std::string Correlator::node_incident_for_pod(IncidentKind kind, const Signal& s) {
  if (!s.node.empty()) {
    auto it = open_.find({kind, node_key(s.node)});
    if (it != open_.end()) {
      return it->second;
    }
    if (Held* done = closed_episode(kind, node_key(s.node), s.time); done != nullptr) {
      return done->incident.id;
    }
  }
  // The pod's node is unknown (no Scheduled Event or binding seen): when exactly one node has
  // an incident of this kind open, the pod belongs to it.
  std::string only;
  for (const auto& [kk, id] : open_) {
    if (kk.first == kind) {
      if (!only.empty()) {
        return "";
      }
      only = id;
    }
  }
  return s.node.empty() ? only : "";
}

void Correlator::on_taint_eviction(const Signal& s) {
  const std::string id = node_incident_for_pod(IncidentKind::kNodeNotReady, s);
  if (id.empty()) {
    return;
  }
  Held& h = held_.at(id);
  const std::string pod = s.namespace_ + "/" + s.pod;
  add_member(h, s);
  h.objects.insert(pod);
  h.evicted.try_emplace(pod, workload_key(s), s.time);
  h.last_eviction = std::max(h.last_eviction, s.time);
  awaiting_replacement_.insert(id);
  retitle(h);
}

void Correlator::on_pod_scheduled(const Signal& s) {
  const std::string wkey = workload_key(s);
  const std::string pod = s.namespace_ + "/" + s.pod;
  // Node incidents whose evicted pods may still be replaced (open or closed: a Deployment
  // often places its new pods after the node is back).
  for (auto it = awaiting_replacement_.begin(); it != awaiting_replacement_.end();) {
    auto held = held_.find(*it);
    if (held == held_.end()) {
      it = awaiting_replacement_.erase(it);
      continue;
    }
    Held& h = held->second;
    bool waiting = false;
    bool recorded = false;
    const std::string replacement = pod + " -> " + s.target_node;
    auto& list = h.incident.replacements;
    const bool known = std::find(list.begin(), list.end(), replacement) != list.end();
    // Nothing new lands on the node while it is not ready; once it is back, it may.
    const bool placeable = s.target_node != h.incident.node || !h.incident.open();
    for (const auto& [evicted, info] : h.evicted) {
      if (h.replaced.count(evicted) != 0 ||
          s.time - info.second > rules_.node_not_ready.replacement_window) {
        continue;
      }
      waiting = true;
      // A StatefulSet's replacement keeps the evicted pod's name; the node tells them apart.
      // One new pod replaces one evicted pod, however many signals (binding, Scheduled) say
      // it was placed.
      if (recorded || known || !placeable || info.first != wkey || s.time < info.second) {
        continue;
      }
      h.replaced.insert(evicted);
      list.push_back(replacement);
      recorded = true;
    }
    if (recorded || (known && placeable)) {
      add_member(h, s);
    }
    it = waiting ? std::next(it) : awaiting_replacement_.erase(it);
  }
  if (Held* h = find_open(IncidentKind::kSchedulingFailure, wkey); h != nullptr) {
    add_member(*h, s);
    h->pending_pods.erase(pod);
    if (h->pending_pods.empty()) {
      close(*h, s.time);
    }
  }
  auto c = candidates_.find({IncidentKind::kSchedulingFailure, wkey});
  if (c != candidates_.end()) {
    auto& q = c->second.signals;
    q.erase(std::remove_if(q.begin(), q.end(), [&](const Signal& x) { return x.pod == s.pod; }),
            q.end());
  }
}

void Correlator::on_cordon(const Signal& s) {
  if (!rules_.node_drain.enabled || s.node.empty()) {
    return;
  }
  Held* h = find_open(IncidentKind::kNodeDrain, node_key(s.node));
  if (h == nullptr) {
    h = closed_episode(IncidentKind::kNodeDrain, node_key(s.node), s.time);
  }
  if (h == nullptr) {
    h = &open_incident(IncidentKind::kNodeDrain, node_key(s.node), s.time);
    h->incident.node = s.node;
  }
  add_member(*h, s);
  retitle(*h);
}

void Correlator::on_uncordon(const Signal& s) {
  Held* h = find_open(IncidentKind::kNodeDrain, node_key(s.node));
  if (h == nullptr) {
    if (Held* done = closed_episode(IncidentKind::kNodeDrain, node_key(s.node), s.time);
        done != nullptr) {
      add_member(*done, s);
    }
    return;
  }
  add_member(*h, s);
  close(*h, s.time);
}

void Correlator::on_pod_eviction(const Signal& s) {
  const std::string id = node_incident_for_pod(IncidentKind::kNodeDrain, s);
  if (id.empty()) {
    return;
  }
  Held& h = held_.at(id);
  add_member(h, s);
  h.objects.insert(s.namespace_ + "/" + s.pod);
  retitle(h);
}

void Correlator::on_workload_signal(const Signal& s, IncidentKind kind) {
  const std::string key = workload_key(s);
  if (key.empty()) {
    return;
  }
  if (s.weight <= 0) {
    // Reports that add no failure (the back-off of one failed pull) join an open incident.
    if (Held* h = find_open(kind, key); h != nullptr) {
      add_member(*h, s);
      h->objects.insert(s.namespace_ + "/" + s.pod);
      retitle(*h);
    }
    return;
  }
  Micros window = 0;
  std::int64_t min_count = 0;
  Micros sustain = 0;
  switch (kind) {
    case IncidentKind::kRestartStorm:
      if (!rules_.restart_storm.enabled) return;
      window = rules_.restart_storm.window;
      min_count = rules_.restart_storm.min_restarts;
      break;
    case IncidentKind::kImagePullFailure:
      if (!rules_.image_pull_failure.enabled) return;
      window = rules_.image_pull_failure.window;
      min_count = rules_.image_pull_failure.min_failures;
      break;
    case IncidentKind::kSchedulingFailure:
      if (!rules_.scheduling_failure.enabled) return;
      window = rules_.scheduling_failure.window;
      min_count = rules_.scheduling_failure.min_failures;
      sustain = rules_.scheduling_failure.sustain;
      break;
    default:
      return;
  }
  if (kind == IncidentKind::kImagePullFailure) {
    // A storm whose containers cannot pull their image after a restart has that as its cause.
    if (Held* storm = find_open(IncidentKind::kRestartStorm, key); storm != nullptr) {
      storm->causes["image-pull"]++;
      retitle(*storm);
    }
  }
  const std::string pod = s.namespace_ + "/" + s.pod;
  Held* h = find_open(kind, key);
  if (h == nullptr) {
    h = reopen_if_same_episode(kind, key, s.time);
  }
  if (h == nullptr) {
    auto& q = candidates_[{kind, key}].signals;
    while (!q.empty() && q.front().time < s.time - window) {
      q.pop_front();
    }
    q.push_back(s);
    std::int64_t total = 0;
    Micros first = s.first, last = s.time;
    bool first_coarse = s.coarse;
    for (const auto& x : q) {
      total += x.weight;
      if (x.first < first) {
        first = x.first;
        first_coarse = x.coarse;
      } else if (x.first == first) {
        first_coarse = first_coarse && x.coarse;
      }
      last = std::max(last, x.time);
    }
    if (total < min_count || last - first < sustain) {
      return;
    }
    if (kind == IncidentKind::kSchedulingFailure) {
      h = scheduling_group(first);
    }
    if (h != nullptr) {
      // Failing from the same moment as an open group: the same cause. It joins the group.
      open_[{kind, key}] = h->incident.id;
      h->group_start = std::max(h->group_start, first);
    } else {
      h = &open_incident(kind, key, first);
      h->start_coarse = first_coarse;
      h->incident.namespace_ = s.namespace_;
      h->incident.workload = s.workload.name;
      h->incident.workload_kind = s.workload.kind;
      h->group_start = first;
    }
    h->workloads.insert(key);
    for (const auto& x : q) {
      add_member(*h, x);
      h->objects.insert(x.namespace_ + "/" + x.pod);
      h->pending_pods.insert(x.namespace_ + "/" + x.pod);
      if (!x.cause.empty()) {
        h->causes[x.cause]++;
      }
      if (kind == IncidentKind::kRestartStorm) {
        h->restarts += x.weight;
        h->containers[x.container] += x.weight;
        if (!x.detail.empty()) {
          h->cause_detail = x.detail;
        }
      }
    }
    candidates_.erase({kind, key});
    if (kind == IncidentKind::kRestartStorm) {
      auto hint = recent_causes_.find(key);
      if (hint != recent_causes_.end() && first - recent_causes_time_[key] <= window) {
        h->causes[hint->second]++;
        if (h->cause_detail.empty()) {
          h->cause_detail = recent_detail_[key];
        }
      }
    }
  } else {
    add_member(*h, s);
    h->objects.insert(pod);
    h->pending_pods.insert(pod);
    if (!s.cause.empty()) {
      h->causes[s.cause]++;
    }
    if (kind == IncidentKind::kRestartStorm) {
      h->restarts += s.weight;
      h->containers[s.container] += s.weight;
      if (!s.detail.empty()) {
        h->cause_detail = s.detail;
      }
    }
  }
  h->last_signal = std::max(h->last_signal, s.time);
  retitle(*h);
}

void Correlator::on_restart_cause(const Signal& s) {
  const std::string key = workload_key(s);
  if (key.empty()) {
    return;
  }
  if (s.reports_restart && !s.coarse) {
    exact_restart_time(key, s);
  }
  if (Held* h = find_open(IncidentKind::kRestartStorm, key); h != nullptr) {
    add_member(*h, s);
    if (!s.cause.empty()) {
      h->causes[s.cause]++;
    }
    if (!s.detail.empty()) {
      h->cause_detail = s.detail;
    }
    retitle(*h);
    return;
  }
  if (s.cause.empty()) {
    return;
  }
  recent_causes_[key] = s.cause;
  recent_causes_time_[key] = s.time;
  recent_detail_[key] = s.detail;
}

void Correlator::exact_restart_time(const std::string& key, const Signal& s) {
  // A BackOff counted a restart at its Event's whole second, and the kubelet's status write of
  // the same restart, within that second, comes after it (the two requests race): the write is
  // the exact time, as it is when it comes first.
  auto same_second = [&](Micros coarse) {
    return coarse % kMicrosPerSecond == 0 && s.time >= coarse && s.time < coarse + kMicrosPerSecond;
  };
  auto c = candidates_.find({IncidentKind::kRestartStorm, key});
  if (c != candidates_.end()) {
    for (Signal& x : c->second.signals) {
      if (x.coarse && x.reports_restart && x.pod == s.pod && same_second(x.first)) {
        x.first = s.time;
        x.time = std::max(x.time, s.time);
        x.coarse = false;
      }
    }
  }
  if (Held* h = find_open(IncidentKind::kRestartStorm, key);
      h != nullptr && h->start_coarse && same_second(h->incident.start)) {
    h->incident.start = s.time;
    h->start_coarse = false;
    h->dirty = true;
  }
}

void Correlator::on_image_pulled(const Signal& s) {
  const std::string key = workload_key(s);
  auto c = candidates_.find({IncidentKind::kImagePullFailure, key});
  if (c != candidates_.end()) {
    auto& q = c->second.signals;
    q.erase(std::remove_if(q.begin(), q.end(), [&](const Signal& x) { return x.pod == s.pod; }),
            q.end());
  }
  if (Held* h = find_open(IncidentKind::kImagePullFailure, key); h != nullptr) {
    // Closed once every pod that failed has pulled.
    add_member(*h, s);
    h->pending_pods.erase(s.namespace_ + "/" + s.pod);
    if (h->pending_pods.empty()) {
      close(*h, s.time);
    }
  }
}

void Correlator::on_pod_deleted(const Signal& s) {
  // A pod that failed to schedule or to pull its image and is then deleted (a rollout replaced
  // it) waits for nothing any more.
  const std::string key = workload_key(s);
  const std::string pod = s.namespace_ + "/" + s.pod;
  for (IncidentKind kind : {IncidentKind::kSchedulingFailure, IncidentKind::kImagePullFailure}) {
    auto c = candidates_.find({kind, key});
    if (c != candidates_.end()) {
      auto& q = c->second.signals;
      q.erase(std::remove_if(q.begin(), q.end(), [&](const Signal& x) { return x.pod == s.pod; }),
              q.end());
    }
    Held* h = find_open(kind, key);
    if (h == nullptr || h->pending_pods.erase(pod) == 0) {
      continue;
    }
    add_member(*h, s);
    if (h->pending_pods.empty()) {
      close(*h, s.time);
    }
  }
}

void Correlator::restore(Incident incident) {
  Held& h = held_[incident.id];
  h = Held{};
  for (std::size_t i = 0; i < incident.members.size(); ++i) {
    h.member_index.emplace(incident.members[i].ref, i);
    h.last_signal = std::max(h.last_signal, incident.members[i].time);
  }
  h.last_signal = std::max(h.last_signal, incident.start);
  h.objects.insert(incident.objects.begin(), incident.objects.end());
  h.members_taken = incident.members.size();
  // A storm's restarts are counted again from the replayed signals (never twice: the store
  // keeps the larger count).
  h.group_start = incident.start;
  if (incident.open()) {
    open_[{incident.kind, incident.key}] = incident.id;
  }
  h.incident = std::move(incident);
  if (h.incident.kind == IncidentKind::kNodeNotReady) {
    restore_evictions(h);
  } else if (h.incident.kind == IncidentKind::kSchedulingFailure && h.incident.open()) {
    restore_group(h);
  }
}

void Correlator::restore_evictions(Held& h) {
  // The objects of a node-not-ready incident are the pods evicted from the node; the first
  // eviction signal of each says when.
  for (const std::string& pod : h.incident.objects) {
    Micros when = 0;
    for (const IncidentMember& m : h.incident.members) {
      if ((m.reason == "TaintManagerEviction" || m.reason == "delete") && pod_of_member(m) == pod &&
          (when == 0 || m.time < when)) {
        when = m.time;
      }
    }
    when = when != 0 ? when : h.incident.start;
    h.evicted.try_emplace(pod, workload_key_of_pod(pod), when);
    h.last_eviction = std::max(h.last_eviction, when);
  }
  // Each recorded replacement ("ns/new-pod -> node") replaced one evicted pod of its workload,
  // the earliest evicted first, as on_pod_scheduled records them.
  for (const std::string& replacement : h.incident.replacements) {
    const std::string pod = replacement.substr(0, replacement.find(" -> "));
    const std::string wkey = workload_key_of_pod(pod);
    const std::string* first = nullptr;
    Micros first_time = 0;
    for (const auto& [evicted, info] : h.evicted) {
      if (h.replaced.count(evicted) == 0 && info.first == wkey &&
          (first == nullptr || info.second < first_time)) {
        first = &evicted;
        first_time = info.second;
      }
    }
    if (first != nullptr) {
      h.replaced.insert(*first);
    }
  }
  if (h.replaced.size() < h.evicted.size()) {
    awaiting_replacement_.insert(h.incident.id);
  }
}

void Correlator::restore_group(Held& h) {
  // A pod is still pending unless a member says it was scheduled, bound or deleted.
  std::set<std::string> done;
  for (const IncidentMember& m : h.incident.members) {
    if (m.reason == "Scheduled" || m.reason == "create binding" || m.reason == "delete") {
      done.insert(pod_of_member(m));
    }
  }
  for (const std::string& pod : h.incident.objects) {
    if (done.count(pod) == 0) {
      h.pending_pods.insert(pod);
    }
    // Every workload of the group finds the group open under its own key, as when it joined.
    const std::string wkey = workload_key_of_pod(pod);
    if (!wkey.empty() && wkey != h.incident.key &&
        open_.try_emplace({IncidentKind::kSchedulingFailure, wkey}, h.incident.id).second) {
      h.workloads.insert(wkey);
    }
  }
  h.workloads.insert(h.incident.key);
}

std::vector<Incident> Correlator::take_updates() {
  std::vector<Incident> out;
  for (auto it = held_.begin(); it != held_.end();) {
    Held& h = it->second;
    if (h.dirty) {
      Incident copy = h.incident;
      copy.members.clear();
      for (std::size_t i = h.members_taken; i < h.incident.members.size(); ++i) {
        copy.members.push_back(h.incident.members[i]);
      }
      for (std::size_t i : h.changed_members) {
        if (i < h.members_taken) {
          copy.members.push_back(h.incident.members[i]);
        }
      }
      std::sort(copy.members.begin(), copy.members.end(),
                [](const IncidentMember& a, const IncidentMember& b) {
                  return std::tie(a.time, a.ref) < std::tie(b.time, b.ref);
                });
      h.members_taken = h.incident.members.size();
      h.changed_members.clear();
      h.dirty = false;
      out.push_back(std::move(copy));
    }
    auto rc = recently_closed_.find({h.incident.kind, h.incident.key});
    const bool kept = (rc != recently_closed_.end() && rc->second == h.incident.id) ||
                      awaiting_replacement_.count(h.incident.id) != 0;
    if ((!h.incident.open() || h.detached) && !h.dirty && !kept) {
      // Closed and handed over: the store has it now. The last quiet-closed incident of each
      // key stays, in case a late signal of the same episode reopens it.
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(out.begin(), out.end(), [](const Incident& a, const Incident& b) {
    return std::tie(a.start, a.id) < std::tie(b.start, b.id);
  });
  return out;
}

std::vector<Incident> Correlator::incidents() const {
  std::vector<Incident> out;
  for (const auto& [id, h] : held_) {
    Incident copy = h.incident;
    std::sort(copy.members.begin(), copy.members.end(),
              [](const IncidentMember& a, const IncidentMember& b) {
                return std::tie(a.time, a.ref) < std::tie(b.time, b.ref);
              });
    out.push_back(std::move(copy));
  }
  std::sort(out.begin(), out.end(), [](const Incident& a, const Incident& b) {
    return std::tie(a.start, a.id) < std::tie(b.start, b.id);
  });
  return out;
}

}  // namespace ktrail::correlate
