// The SQLite store: where every batch ends up, and what the query commands read.
//
// Contract:
// - write_batch() writes a whole Batch in ONE transaction and returns only once it is
//   committed, so the caller may acknowledge the batch. It is idempotent: an audit event whose
//   identity (auditID, stage, requestReceivedTimestamp, stageTimestamp) is already stored
//   counts as a duplicate (apiserver retries, repeated replays); a Kubernetes Event is upserted
//   by uid (a newer count or lastTimestamp replaces the row, anything else is a duplicate), and
//   one without a uid joins the row of the same namespace and name, kept under the uid
//   "namespace/name" until an arrival with the real uid gives it that (docs/store.md); Events
//   marked `carried` (decoded from an audit event) are written but not counted, and the row
//   remembers whether the Event was ever received as such (read back, `carried` says it was not);
//   rejected items go to the dead-letter table. One writer thread per store.
// - Durability: the file is in WAL mode. With SyncMode::kNormal (default) a committed batch
//   survives a crash or kill -9 of the process (the WAL is written before COMMIT returns); an
//   OS crash or power loss may lose the last batches acknowledged. SyncMode::kFull fsyncs the
//   WAL at every commit and also survives power loss, at a throughput cost.
// - Readers open the same file read-only, from other threads or processes; WAL lets them read
//   the last committed state while the writer writes, neither blocking the other.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/audit_event.h"
#include "core/batch.h"
#include "core/finding.h"
#include "core/incident.h"
#include "core/kube_event.h"
#include "core/status.h"
#include "core/time.h"
#include "storage/report_data.h"

struct sqlite3;

namespace ktrail {

enum class SyncMode { kNormal, kFull };

struct StoreOptions {
  bool read_only = false;
  SyncMode sync = SyncMode::kNormal;
  // SQLite page cache of this connection, in MiB (the writer's hot index pages live here).
  int cache_mib = 64;
  // zstd level for the stored full event; 0 stores plain JSON.
  int zstd_level = 1;
  // Page size of a NEW file (ignored for an existing one).
  int page_size = 4096;
  // WAL pages before a checkpoint. Larger means hot pages are copied into the database less
  // often (16000 pages cost ~10% less writer CPU than 4000 in store_bench).
  int wal_autocheckpoint_pages = 16000;
  // Run checkpoints on a background thread and connection (storage/checkpointer.h) instead of
  // inside the writer's commits; the writer only checkpoints itself when the WAL passes
  // `wal_limit_pages` (0: four times wal_autocheckpoint_pages).
  bool background_checkpoints = true;
  int wal_limit_pages = 0;
  // Events stored before their name, user, namespace and resource are merged into the name
  // index and the postings (schema.cpp, versions 5 and 7). Larger means fewer index pages
  // written per event, and a longer transaction once per that many events; searches by those
  // fields scan the pending rows.
  std::size_t index_merge_rows = 262144;
  // Entries of the in-memory string dictionary cache (bounded for memory).
  std::size_t dictionary_cache_entries = 1 << 18;
  // Keep the report rollups and coverage counters (storage/rollups.h). Off only to measure
  // their cost (bench/report_bench.cpp): a store written without them has incomplete reports.
  bool rollups = true;
  // Time stamped on dead letters; nullptr means the system clock.
  const Clock* clock = nullptr;
  // Sealing (storage/segments.h): partitions of `partition` µs of stageTimestamp are rewritten
  // as sealed columnar segments once the newest stored event is `seal_after` past their end, by
  // a thread of the store on its own connection. 0 (the default) never seals on its own.
  Micros seal_after = 0;
  Micros partition = 3600LL * 1000000;
  // With sealing on: sealed segments whose events are all older than this before the newest
  // stored event are removed by the same thread (0: kept).
  Micros retention = 0;
};

struct StoredAudit;

// What to look for in `Store::find_audit`. Unset fields do not filter.
struct AuditFilter {
  // Any of these clusters (core/cluster.h); empty: every cluster.
  std::vector<std::string> clusters;
  std::optional<std::string> user;  // the authenticated user
  // The acting identity: the authenticated user OR the impersonated user (impersonatedUser).
  std::optional<std::string> user_or_impersonated;
  std::optional<std::string> verb;
  std::vector<std::string> verbs;  // any of these (with `verb`, both must hold)
  std::optional<std::string> resource;
  std::optional<std::string> subresource;
  std::optional<std::string> namespace_;
  std::optional<std::string> name;
  // Any of these object names (with `name` unset): one index search for several objects.
  std::vector<std::string> names;
  std::optional<int> code;
  // Any of these inclusive ranges of response codes ({401,401}, {400,499}).
  std::vector<std::pair<int, int>> code_ranges;
  std::optional<Micros> since;  // stageTimestamp >= since
  std::optional<Micros> until;  // stageTimestamp <= until
  // At most this many events, the most recent ones; 0 means no limit. Results come oldest first.
  std::size_t limit = 0;
  bool with_event = false;  // also return the full event JSON
  // With `with_event`: only the rows this accepts get their event (reading an event means
  // reading and unpacking its block, the dearest part of a search).
  std::function<bool(const StoredAudit&)> event_wanted;
  // With `with_event`: only the rows of non-resource requests (no resource: /healthz, /metrics,
  // /version) get their event, chosen before any event is read, sealed rows too (where
  // event_wanted is asked only after). Both set: a row needs both.
  bool events_of_non_resource_only = false;
};

// An audit event as stored: its normalized columns, decoded back to strings.
struct StoredAudit {
  std::string cluster = "default";
  Micros time = 0;  // stageTimestamp
  Micros received = 0;
  std::string audit_id;
  Stage stage = Stage::kResponseComplete;
  Level level = Level::kMetadata;           // as applied (after a policy)
  Level level_received = Level::kMetadata;  // as the event arrived
  std::string verb;
  std::string user;
  std::string groups;  // JSON array text
  std::string impersonated_user;
  std::string resource;
  std::string subresource;
  std::string namespace_;
  std::string name;
  int code = 0;
  std::string source_ips;  // JSON array text
  std::string user_agent;
  std::string event;  // the full event JSON when AuditFilter::with_event
};

// What to look for in `Store::find_incidents`. Unset fields do not filter.
struct IncidentFilter {
  std::vector<std::string> clusters;  // any of these; empty: every cluster
  std::optional<IncidentKind> kind;
  bool open_only = false;
  std::optional<Micros> since;  // incidents still going on at or after `since`
  std::optional<Micros> until;  // incidents that started at or before `until`
  std::optional<std::string> node;
  std::optional<std::string> namespace_;
  std::optional<std::string> pod;  // "namespace/name" (or a bare name) among affected objects
  std::optional<std::string> actor;
  std::size_t limit = 0;  // the most recent ones; 0 means no limit
  bool with_members = false;
  // Paging oldest first (a reader going through a large answer a page at a time): only the
  // incidents whose (start, id) comes after `after`, and `limit` keeps the OLDEST of them.
  std::optional<std::pair<Micros, std::string>> after;
  bool oldest_first = false;
};

// What to look for in `Store::find_kube_events`. Unset fields do not filter.
struct KubeEventFilter {
  std::vector<std::string> clusters;  // any of these; empty: every cluster
  std::optional<std::string> node;  // Events about the Node, or reported from it (source.host)
  std::optional<std::string> namespace_;  // of the involved object
  std::optional<std::string> object_name;
  std::optional<std::string> object_kind;  // compared without regard to case ("node" = "Node")
  std::optional<std::string> reason;
  std::optional<std::string> type;  // Normal or Warning, without regard to case
  // Only Events received as Events, not those known only from the audit events that carried
  // them (KubeEvent::carried).
  bool received_only = false;
  std::optional<Micros> since;  // lastTimestamp >= since
  std::optional<Micros> until;  // firstTimestamp <= until
  std::size_t limit = 0;        // the most recent ones; 0 means no limit
};

// What to look for in `Store::find_findings`. Unset fields do not filter.
struct FindingFilter {
  std::vector<std::string> clusters;  // any of these; empty: every cluster
  std::optional<std::string> rule;
  std::optional<int> max_severity;  // priority rank: 4 keeps WARNING and everything more severe
  std::optional<std::string> user;  // the user or the impersonated user
  std::optional<std::string> namespace_;
  std::optional<std::string> audit_id;
  std::optional<Micros> since;  // time >= since
  std::optional<Micros> until;  // time <= until
  std::size_t limit = 0;        // the most recent ones; 0 means no limit. Oldest first.
};

struct StoreCounts {
  std::int64_t audit = 0;
  std::int64_t kube_events = 0;
  std::int64_t dead_letters = 0;
  std::int64_t incidents = 0;
  std::int64_t findings = 0;
};

// What `Store::prune_before` removed and left.
struct PruneReport {
  std::int64_t segments = 0;
  std::int64_t events = 0;
  std::int64_t hot_kept = 0;     // events before the time that are not sealed yet
  std::int64_t sealed_kept = 0;  // sealed events before it behind a newer segment in the chain
};

// What `Store::verify_segments` found (storage/segments.h, the hash chain).
struct ChainReport {
  std::int64_t segments = 0;
  std::int64_t events = 0;
  std::optional<std::int64_t> bad_segment;  // the first segment that does not match
  Micros bad_range_start = 0;               // its partition
  Micros bad_range_end = 0;
  std::string reason;
  std::string head;                 // hex SHA-256 of the last segment ("" without segments)
  std::vector<std::string> hashes;  // hex of every segment's hash, oldest first
};

class Store {
 public:
  // Opens (creating and migrating when writable) the SQLite file at `path`. A read-only open
  // of a missing file, or of a file at another schema version, is an error.
  static Result<std::unique_ptr<Store>> open(const std::string& path, const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // See the contract above. Errors leave nothing of the batch written.
  Result<BatchOutcome> write_batch(const Batch& batch);
  // The same, and `also` runs on the connection inside the batch's transaction, before COMMIT:
  // state that must commit atomically with the batch (e.g. the Kafka offsets it came from,
  // storage/source_offsets.h). A failure of `also` rolls the whole batch back.
  Result<BatchOutcome> write_batch(const Batch& batch, const std::function<Status(sqlite3*)>& also);
  // Several batches in ONE transaction (group commit: under load the pipeline writes what has
  // queued up together, so each index page and block is written once for all of them). The
  // outcomes are per batch, in order; an error leaves none of them written.
  Result<std::vector<BatchOutcome>> write_batches(const std::vector<const Batch*>& batches);

  // Audit events matching `filter`, oldest first.
  Result<std::vector<StoredAudit>> find_audit(const AuditFilter& filter);
  // The same, and how many events matched in all (more than returned when the limit cut them).
  Result<std::vector<StoredAudit>> find_audit(const AuditFilter& filter, std::size_t* matched);

  Result<StoreCounts> counts();
  // The clusters the store holds data of, sorted by name (core/cluster.h).
  Result<std::vector<std::string>> clusters();

  // Seals every due partition now, on this thread (storage/segments.h), whether or not
  // `seal_after` is set: the rows moved into segments. Outside write_batch only.
  Result<std::int64_t> seal_due(Micros seal_after);
  // Recomputes the hash chain of the sealed segments; content is rehashed for the segments
  // with events at or after `since` (all without it), the links for all.
  Result<ChainReport> verify_segments(std::optional<Micros> since);
  // Removes whole sealed segments whose events are all before `before` (storage/segments.h).
  Result<PruneReport> prune_before(Micros before);
  // Every audit event with stageTimestamp in [since, until], sealed or hot, as stored, in time
  // order, to `sink` (streamed).
  Status export_audit(Micros since, Micros until,
                      const std::function<Status(std::string_view)>& sink);
  // Partitions sealed and errors met by the store's sealing thread so far.
  std::int64_t sealed_segments() const;
  std::int64_t seal_errors() const;

  // Incidents matching `filter`, oldest start first (storage/store_incidents.cpp).
  Result<std::vector<Incident>> find_incidents(const IncidentFilter& filter);
  // One incident with all its members, time-ordered; kNotFound when there is none.
  Result<Incident> get_incident(const std::string& id);
  // Stored Events matching `filter`, oldest last observation first.
  Result<std::vector<KubeEvent>> find_kube_events(const KubeEventFilter& filter);

  // Findings matching `filter`, oldest first (storage/store_findings.cpp).
  Result<std::vector<Finding>> find_findings(const FindingFilter& filter);
  // The same findings, oldest first, handed to `each` one at a time as they are read (memory
  // does not grow with the answer); an error from `each` stops the read and is returned.
  Status each_finding(const FindingFilter& filter,
                      const std::function<Status(const Finding&)>& each);
  // One finding by its id; kNotFound when there is none.
  Result<Finding> get_finding(std::int64_t id);

  // Compliance-report reads (storage/store_report.cpp, storage/report_data.h).
  // Section rows of the UTC days first_day..last_day (of these clusters; empty: all).
  Result<std::vector<ReportDayRow>> read_report_days(
      std::int64_t first_day, std::int64_t last_day, const std::vector<std::string>& clusters = {});
  // Activity, counters, dead letters and policies of [since, until].
  Result<CoverageData> read_coverage(Micros since, Micros until);
  // Findings of [since, until] by rule, priority and acting identity; std::nullopt when the store
  // has no findings table.
  Result<std::optional<std::vector<FindingGroup>>> read_finding_groups(
      Micros since, Micros until, bool with_audit_ids,
      const std::vector<std::string>& clusters = {});
  // Records the audit policy a writer runs with from `now` (`digest` identifies `text`), unless
  // the last one recorded for `source` has the same digest; from then on this store counts the
  // events it stores under that digest per day (coverage: the policy in force).
  Status record_policy(const std::string& source, const std::string& digest,
                       const std::string& text, Micros now);

  // The connection, for code of this module's callers that needs a plain statement on the
  // same file (e.g. tests). Owned by the store.
  sqlite3* handle();

  const std::string& path() const { return path_; }

 private:
  struct Impl;
  Store(std::string path, std::unique_ptr<Impl> impl);
  Result<std::vector<BatchOutcome>> write_group(const std::vector<const Batch*>& batches,
                                                const std::function<Status(sqlite3*)>& also);
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ktrail
