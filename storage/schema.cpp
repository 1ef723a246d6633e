#include "storage/schema.h"

#include <string>
#include <vector>

#include "storage/event_codec.h"
#include "storage/postings.h"

namespace ktrail::storage {
namespace {

// Step N brings the file from user_version N to N+1.
//
// audit: one row per distinct audit event (identity: auditID, stage, both timestamps).
//   `key` is the rowid: stageTimestamp in microseconds shifted left 10 bits, plus 10 bits of
//   the identity hash (probed upward on collision). Keys therefore grow with time, so inserts
//   append at the right edge of the table B-tree, and the implicit rowid suffix of every
//   secondary index keeps each index time-ordered within its key.
//   Repeated strings (users, verbs, resources, namespaces, agents, group and IP lists) are
//   interned in `dict`; the row stores their ids. The full event lives in `event_blocks`:
//   event_ref = (block id << 8) | index in the block (storage/event_codec.h).
// event_blocks: the full events of consecutive stored audit rows, packed and compressed
//   together (format 0 plain, 1 zstd).
// kube_events: one row per Event object (uid); an update in place replaces the row.
// dead_letters: items that were not valid audit events or Events, kept with the reason.
//
// Version 2 adds incidents (core/incident.h): one row per incident, upserted as correlation
// extends and closes it (end_time NULL while open; objects and replacements are JSON arrays),
// and incident_members linking each to the audit events (ref = auditID) and Events (ref = uid)
// that justify it. kube_events_by_host serves node timelines (kubelet Events name the node in
// source.host, not in involvedObject).
//
// Version 3 adds audit_by_name for timelines of one node or pod: with the time-ordered rowid it
// turns "this name over this day" into one range scan.
//
// Version 4 records the level an event arrived with beside the level applied (a policy can lower
// it): audit.level_received, NULL when the two are the same, which is most events and costs
// nothing to store.
//
// Version 5 replaces audit_by_name with a name index written in bulk. An index on audit(name)
// takes every insert at its own name's place in the tree, so a batch of events on a thousand
// objects dirtied a thousand index pages, and that cost more than the rest of the write path.
// Now the writer appends (key, name id) to audit_names_pending, at the right edge like the rows
// themselves, and every few tens of thousands of events moves the pending entries into
// audit_names(name_id, key) in one sorted pass, so each hot page is written once per merge
// rather than once per batch. A search by name reads both tables.
//
// Version 6 makes every Event lookup a range bounded by time at both ends. A timeline wants the
// Events that overlap [since, until] (last_time >= since, first_time <= until), ordered by
// last_time: an index on last_time bounds that range only below, since an Event seen first
// inside the window may repeat for days after it. kube_events.span_class (a virtual column: it
// costs no storage) sorts Events by how long they lasted, under a minute, an hour, a day, a week,
// or longer; within class c, last_time < first_time + bound(c) <= until + bound(c), so one index
// range per class covers exactly the candidates (storage/span_class.h). The four Event indexes
// are replaced by the same keys with span_class before last_time, so writing an Event maintains
// as many indexes as before (each a little dearer: BENCHMARKS.md, bench/event_write_bench.cpp).
// Incidents (ordered by start, going on at or after since) get the mirror image:
// incidents.span_class (5 while open), ranges on start_time bounded below by since - bound(c); the
// node index gains the class, and one (span_class, start_time) index serves time windows with other
// filters.
//
// Version 7 replaces the indexes on audit(user_id), audit(ns_id) and audit(resource_id) with
// postings written in bulk (storage/postings.h): each index cost a B-tree insert per event, and
// the three took half of the writer's time. audit_pending takes over from audit_names_pending:
// one row per event stored since the last merge, with its name, user, namespace and resource ids;
// a merge moves the names into audit_names as before and the rest into audit_postings, one row
// per term. Pending name entries are merged first; the postings of the rows already stored are
// built in C++ right after this step's SQL (write_postings_of).
//
// Version 8 adds findings (core/finding.h): one row per detection rule that matched an audit
// event, unique on (rule, audit_id, stage) so a replay stores nothing twice. The row is linked to
// its audit event by audit_id and stage (the stage's name, as in the audit_events view) and
// copies the columns listings filter on; `time` is the event's stageTimestamp in microseconds,
// like audit.ts. `severity` is the priority's rank (0 EMERGENCY .. 7 DEBUG) for "at least this
// severe" filters; `tags` is a JSON array of strings.
//
// Version 9 indexes the audit rows that do not sit on their identity's first key (another
// identity held it: a hash collision, or more events on one microsecond than it has slots).
// audit_displaced(ts, hash, key) finds such a row's identity in one seek, and (ts, key) the end
// of a crowded microsecond's run, so that a burst of n events on one stageTimestamp costs
// O(log n) per event instead of a scan of the run. Rows on their first key, nearly all of them,
// have no entry. The entries of the rows already stored are computed in C++ after the SQL.
//
// Version 10 keeps what compliance reports read, written by the writer in the batch's transaction
// (storage/rollups.h), so a report reads days, not events:
// - audit_by_impersonated: a partial index, so only impersonated events pay for it; a search for
//   the acting user (user or impersonated user) reads it beside the user's postings.
// - report_days: per UTC day and report section, one row per acting identity, verb, object and
//   detail, with the count and the first and last time. Ids are dict ids, 0 for none.
// - audit_minutes: stored audit events per source (dict id of the batch origin without its port)
//   and minute; a run of empty minutes is a gap in the record.
// - coverage_days: per day and source, what the pipeline counted besides stored events: dropped
//   by policy (and why), levels lowered, truncated, dead letters, duplicates.
// - policy_history: the audit policy each writer ran with, from when.
// - store_meta: 'rollups_since' is the stageTimestamp from which the rollups are complete (the
//   newest event stored before this version, plus one; absent on a store that starts here).
// The step is written to run again harmlessly (IF NOT EXISTS), as on a file whose version was
// stepped back.
// Version 11 indexes Events by their own namespace and name. An Event carried inside an audit
// event (the apiserver's audit of a kubelet creating it) has no uid when only the request was
// logged; it is the same Event as the one that arrives on /events with a uid, and the writer
// finds that row by name (storage/store.h) so that both make one row. kube_events.received
// says whether the Event was ever received as an Event (on /events, a watch, a file of Events):
// one known only from the audit events that carried it is 0, so that restoring correlation
// replays it once, from those audit events, as correlation first saw it.
//
// Version 12: sealed segments (storage/segments.h). A partition of key time whose events no
// longer change is rewritten as one row of `segments` (range, keys, times, count, the hash
// chain), its column arrays and filter in `segment_columns`, and its original events in
// `segment_frames`; its hot rows are deleted. event_blocks.sealed (added in after_migration)
// counts a block's events moved into segments, so a block is dropped once all of its events are
// sealed. store_meta keeps the hash and id of the last segment pruned ('segments_pruned_hash',
// 'segments_pruned_id'), where the chain of the remaining segments begins.
//
// Version 13: clusters (core/cluster.h). `clusters` names the clusters the store holds: id 0 is
// "default", others take their name's dict id. audit, incidents and dead_letters gain
// `cluster` (INTEGER NOT NULL DEFAULT 0: adding it rewrites nothing, and a stored 0 costs no
// bytes beyond its header). kube_events and findings are rebuilt, since their identities become
// (cluster, uid) and (cluster, rule, audit_id, stage), which needs new UNIQUE constraints;
// report_days is rebuilt with the cluster in its key, so a report can be of some clusters. An
// audit event's identity includes its cluster through the identity hash and the compared
// columns (storage/event_codec.h); the default cluster hashes as before, so the rows already
// stored keep their keys. Everything stored before this version becomes cluster "default".
const std::vector<const char*> kMigrations = {
    R"sql(
CREATE TABLE dict(
  id INTEGER PRIMARY KEY,
  value TEXT NOT NULL UNIQUE
);
CREATE TABLE audit(
  key INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  received INTEGER NOT NULL,
  audit_id TEXT NOT NULL,
  stage INTEGER NOT NULL,
  level INTEGER NOT NULL,
  verb_id INTEGER,
  user_id INTEGER,
  groups_id INTEGER,
  imp_user_id INTEGER,
  resource_id INTEGER,
  subresource_id INTEGER,
  ns_id INTEGER,
  name TEXT,
  code INTEGER,
  ips_id INTEGER,
  ua_id INTEGER,
  event_ref INTEGER NOT NULL
);
CREATE TABLE event_blocks(
  id INTEGER PRIMARY KEY,
  format INTEGER NOT NULL,
  count INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE INDEX audit_by_user ON audit(user_id);
CREATE INDEX audit_by_namespace ON audit(ns_id) WHERE ns_id IS NOT NULL;
CREATE INDEX audit_by_resource ON audit(resource_id);
CREATE TABLE kube_events(
  id INTEGER PRIMARY KEY,
  uid TEXT NOT NULL UNIQUE,
  namespace TEXT,
  name TEXT,
  object_kind TEXT,
  object_namespace TEXT,
  object_name TEXT,
  object_uid TEXT,
  reason TEXT,
  message TEXT,
  type TEXT,
  source_component TEXT,
  source_host TEXT,
  first_time INTEGER NOT NULL,
  last_time INTEGER NOT NULL,
  count INTEGER NOT NULL,
  event TEXT NOT NULL
);
CREATE INDEX kube_events_by_time ON kube_events(last_time);
CREATE INDEX kube_events_by_object ON kube_events(object_name, object_kind);
CREATE TABLE dead_letters(
  id INTEGER PRIMARY KEY,
  received INTEGER NOT NULL,
  origin TEXT NOT NULL,
  reason TEXT NOT NULL,
  raw TEXT NOT NULL
);
CREATE VIEW audit_events AS
SELECT a.key, a.ts, a.received, a.audit_id,
  CASE a.stage WHEN 0 THEN 'RequestReceived' WHEN 1 THEN 'ResponseStarted'
    WHEN 2 THEN 'ResponseComplete' ELSE 'Panic' END AS stage,
  CASE a.level WHEN 0 THEN 'None' WHEN 1 THEN 'Metadata' WHEN 2 THEN 'Request'
    ELSE 'RequestResponse' END AS level,
  (SELECT value FROM dict WHERE id = a.verb_id) AS verb,
  (SELECT value FROM dict WHERE id = a.user_id) AS username,
  (SELECT value FROM dict WHERE id = a.groups_id) AS groups,
  (SELECT value FROM dict WHERE id = a.imp_user_id) AS impersonated_user,
  (SELECT value FROM dict WHERE id = a.resource_id) AS resource,
  (SELECT value FROM dict WHERE id = a.subresource_id) AS subresource,
  (SELECT value FROM dict WHERE id = a.ns_id) AS namespace,
  a.name, a.code,
  (SELECT value FROM dict WHERE id = a.ips_id) AS source_ips,
  (SELECT value FROM dict WHERE id = a.ua_id) AS user_agent,
  a.event_ref >> 8 AS block_id, a.event_ref & 255 AS block_index
FROM audit a;
)sql",
    R"sql(
CREATE TABLE incidents(
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  title TEXT NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER,
  node TEXT,
  namespace TEXT,
  workload TEXT,
  workload_kind TEXT,
  actor TEXT,
  cause TEXT,
  objects TEXT NOT NULL,
  replacements TEXT NOT NULL,
  count INTEGER NOT NULL
);
CREATE INDEX incidents_by_start ON incidents(start_time);
CREATE INDEX incidents_open ON incidents(start_time) WHERE end_time IS NULL;
CREATE INDEX incidents_by_node ON incidents(node, start_time) WHERE node IS NOT NULL;
CREATE INDEX incidents_by_namespace ON incidents(namespace, start_time)
  WHERE namespace IS NOT NULL;
CREATE TABLE incident_members(
  incident_id TEXT NOT NULL,
  ref TEXT NOT NULL,
  source TEXT NOT NULL,
  time INTEGER NOT NULL,
  reason TEXT,
  object TEXT,
  message TEXT,
  PRIMARY KEY(incident_id, ref)
) WITHOUT ROWID;
CREATE INDEX kube_events_by_host ON kube_events(source_host, last_time)
  WHERE source_host IS NOT NULL;
CREATE INDEX kube_events_by_namespace ON kube_events(object_namespace, last_time);
)sql",
    R"sql(
CREATE INDEX IF NOT EXISTS audit_by_name ON audit(name);
)sql",
    R"sql(
ALTER TABLE audit ADD COLUMN level_received INTEGER;
DROP VIEW audit_events;
CREATE VIEW audit_events AS
SELECT a.key, a.ts, a.received, a.audit_id,
  CASE a.stage WHEN 0 THEN 'RequestReceived' WHEN 1 THEN 'ResponseStarted'
    WHEN 2 THEN 'ResponseComplete' ELSE 'Panic' END AS stage,
  CASE a.level WHEN 0 THEN 'None' WHEN 1 THEN 'Metadata' WHEN 2 THEN 'Request'
    ELSE 'RequestResponse' END AS level,
  CASE coalesce(a.level_received, a.level) WHEN 0 THEN 'None' WHEN 1 THEN 'Metadata'
    WHEN 2 THEN 'Request' ELSE 'RequestResponse' END AS level_received,
  (SELECT value FROM dict WHERE id = a.verb_id) AS verb,
  (SELECT value FROM dict WHERE id = a.user_id) AS username,
  (SELECT value FROM dict WHERE id = a.groups_id) AS groups,
  (SELECT value FROM dict WHERE id = a.imp_user_id) AS impersonated_user,
  (SELECT value FROM dict WHERE id = a.resource_id) AS resource,
  (SELECT value FROM dict WHERE id = a.subresource_id) AS subresource,
  (SELECT value FROM dict WHERE id = a.ns_id) AS namespace,
  a.name, a.code,
  (SELECT value FROM dict WHERE id = a.ips_id) AS source_ips,
  (SELECT value FROM dict WHERE id = a.ua_id) AS user_agent,
  a.event_ref >> 8 AS block_id, a.event_ref & 255 AS block_index
FROM audit a;
)sql",
    R"sql(
CREATE TABLE audit_names(
  name_id INTEGER NOT NULL,
  key INTEGER NOT NULL,
  PRIMARY KEY(name_id, key)
) WITHOUT ROWID;
CREATE TABLE audit_names_pending(
  key INTEGER PRIMARY KEY,
  name_id INTEGER NOT NULL
);
INSERT OR IGNORE INTO dict(value) SELECT DISTINCT name FROM audit WHERE name IS NOT NULL;
INSERT INTO audit_names(name_id, key)
  SELECT d.id, a.key FROM audit a JOIN dict d ON d.value = a.name ORDER BY 1, 2;
DROP INDEX IF EXISTS audit_by_name;
)sql",
    R"sql(
ALTER TABLE kube_events ADD COLUMN span_class INTEGER GENERATED ALWAYS AS (
  (last_time - first_time >= 60000000) + (last_time - first_time >= 3600000000) +
  (last_time - first_time >= 86400000000) + (last_time - first_time >= 604800000000)) VIRTUAL;
DROP INDEX kube_events_by_time;
DROP INDEX kube_events_by_object;
DROP INDEX kube_events_by_host;
DROP INDEX kube_events_by_namespace;
CREATE INDEX kube_events_by_span_time ON kube_events(span_class, last_time);
CREATE INDEX kube_events_by_object_time ON kube_events(object_name, span_class, last_time);
CREATE INDEX kube_events_by_host_time ON kube_events(source_host, span_class, last_time)
  WHERE source_host IS NOT NULL;
CREATE INDEX kube_events_by_namespace_time ON kube_events(object_namespace, span_class, last_time);
ALTER TABLE incidents ADD COLUMN span_class INTEGER GENERATED ALWAYS AS (
  CASE WHEN end_time IS NULL THEN 5 ELSE
  (end_time - start_time >= 60000000) + (end_time - start_time >= 3600000000) +
  (end_time - start_time >= 86400000000) + (end_time - start_time >= 604800000000) END) VIRTUAL;
DROP INDEX incidents_by_node;
CREATE INDEX incidents_by_node_span ON incidents(node, span_class, start_time)
  WHERE node IS NOT NULL;
CREATE INDEX incidents_by_span_start ON incidents(span_class, start_time);
)sql",
    R"sql(
INSERT OR IGNORE INTO audit_names(name_id, key)
  SELECT name_id, key FROM audit_names_pending ORDER BY name_id, key;
DROP TABLE audit_names_pending;
CREATE TABLE audit_pending(
  key INTEGER PRIMARY KEY,
  name_id INTEGER,
  user_id INTEGER,
  ns_id INTEGER,
  resource_id INTEGER
);
CREATE TABLE audit_postings(
  term INTEGER NOT NULL,
  last_key INTEGER NOT NULL,
  first_key INTEGER NOT NULL,
  count INTEGER NOT NULL,
  keys BLOB NOT NULL,
  PRIMARY KEY(term, last_key)
) WITHOUT ROWID;
DROP INDEX audit_by_user;
DROP INDEX audit_by_namespace;
DROP INDEX audit_by_resource;
)sql",
    R"sql(
CREATE TABLE findings(
  id INTEGER PRIMARY KEY,
  rule TEXT NOT NULL,
  priority TEXT NOT NULL,
  severity INTEGER NOT NULL,
  audit_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  time INTEGER NOT NULL,
  user TEXT,
  impersonated_user TEXT,
  namespace TEXT,
  resource TEXT,
  name TEXT,
  output TEXT NOT NULL,
  tags TEXT NOT NULL,
  UNIQUE(rule, audit_id, stage)
);
CREATE INDEX findings_by_time ON findings(time);
CREATE INDEX findings_by_audit ON findings(audit_id, stage);
)sql",
    R"sql(
CREATE TABLE audit_displaced(
  ts INTEGER NOT NULL,
  hash INTEGER NOT NULL,
  key INTEGER NOT NULL,
  PRIMARY KEY(ts, hash, key)
) WITHOUT ROWID;
CREATE INDEX audit_displaced_by_key ON audit_displaced(ts, key);
)sql",
    R"sql(
CREATE INDEX IF NOT EXISTS audit_by_impersonated ON audit(imp_user_id) WHERE imp_user_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS report_days(
  day INTEGER NOT NULL,
  section INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  imp_user_id INTEGER NOT NULL,
  verb_id INTEGER NOT NULL,
  resource_id INTEGER NOT NULL,
  subresource_id INTEGER NOT NULL,
  ns_id INTEGER NOT NULL,
  name_id INTEGER NOT NULL,
  code INTEGER NOT NULL,
  ips_id INTEGER NOT NULL,
  detail TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  PRIMARY KEY(day, section, user_id, imp_user_id, verb_id, resource_id, subresource_id, ns_id,
    name_id, code, ips_id, detail)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_minutes(
  source_id INTEGER NOT NULL,
  minute INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY(source_id, minute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coverage_days(
  day INTEGER NOT NULL,
  source_id INTEGER NOT NULL,
  counter TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY(day, source_id, counter)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS policy_history(
  id INTEGER PRIMARY KEY,
  since INTEGER NOT NULL,
  source TEXT NOT NULL,
  digest TEXT NOT NULL,
  policy TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS store_meta(
  key TEXT PRIMARY KEY,
  value INTEGER
);
INSERT OR IGNORE INTO store_meta(key, value) SELECT 'rollups_since', max(ts) + 1 FROM audit
  HAVING count(*) > 0;
)sql",
    R"sql(
CREATE INDEX IF NOT EXISTS kube_events_by_name ON kube_events(name, namespace) WHERE name IS NOT NULL;
)sql",
    R"sql(
CREATE TABLE IF NOT EXISTS segments(
  id INTEGER PRIMARY KEY,
  range_start INTEGER NOT NULL,
  range_end INTEGER NOT NULL,
  first_key INTEGER NOT NULL,
  last_key INTEGER NOT NULL,
  min_ts INTEGER NOT NULL,
  max_ts INTEGER NOT NULL,
  count INTEGER NOT NULL,
  prev_hash BLOB,
  hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS segment_columns(
  segment_id INTEGER PRIMARY KEY,
  filter BLOB NOT NULL,
  columns BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS segment_frames(
  segment_id INTEGER NOT NULL,
  frame INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(segment_id, frame)
);
)sql",
    R"sql(
CREATE TABLE IF NOT EXISTS clusters(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
INSERT OR IGNORE INTO clusters(id, name) SELECT 0, 'default'
  WHERE EXISTS (SELECT 1 FROM audit) OR EXISTS (SELECT 1 FROM segments)
    OR EXISTS (SELECT 1 FROM kube_events) OR EXISTS (SELECT 1 FROM incidents)
    OR EXISTS (SELECT 1 FROM findings);
)sql",
};

// Version 13 beyond its SQL (after_migration): each table gains its cluster column only when it
// lacks one, so that the step runs again harmlessly on a file whose version was stepped back.
// audit, incidents and dead_letters get it in place; kube_events, findings and report_days are
// rebuilt, their unique keys taking the cluster in.
constexpr const char* kClusterColumnAdded =
    "ALTER TABLE %s ADD COLUMN cluster INTEGER NOT NULL DEFAULT 0";
const char* const kKubeEventsWithCluster = R"sql(
CREATE TABLE kube_events_v13(
  id INTEGER PRIMARY KEY,
  cluster INTEGER NOT NULL DEFAULT 0,
  uid TEXT NOT NULL,
  namespace TEXT,
  name TEXT,
  object_kind TEXT,
  object_namespace TEXT,
  object_name TEXT,
  object_uid TEXT,
  reason TEXT,
  message TEXT,
  type TEXT,
  source_component TEXT,
  source_host TEXT,
  first_time INTEGER NOT NULL,
  last_time INTEGER NOT NULL,
  count INTEGER NOT NULL,
  event TEXT NOT NULL,
  span_class INTEGER GENERATED ALWAYS AS (
    (last_time - first_time >= 60000000) + (last_time - first_time >= 3600000000) +
    (last_time - first_time >= 86400000000) + (last_time - first_time >= 604800000000)) VIRTUAL,
  received INTEGER NOT NULL DEFAULT 1,
  UNIQUE(cluster, uid)
);
INSERT INTO kube_events_v13(id, cluster, uid, namespace, name, object_kind, object_namespace,
  object_name, object_uid, reason, message, type, source_component, source_host, first_time,
  last_time, count, event, received)
SELECT id, 0, uid, namespace, name, object_kind, object_namespace, object_name, object_uid,
  reason, message, type, source_component, source_host, first_time, last_time, count, event,
  received FROM kube_events;
DROP TABLE kube_events;
ALTER TABLE kube_events_v13 RENAME TO kube_events;
CREATE INDEX kube_events_by_span_time ON kube_events(span_class, last_time);
CREATE INDEX kube_events_by_object_time ON kube_events(object_name, span_class, last_time);
CREATE INDEX kube_events_by_host_time ON kube_events(source_host, span_class, last_time)
  WHERE source_host IS NOT NULL;
CREATE INDEX kube_events_by_namespace_time ON kube_events(object_namespace, span_class, last_time);
CREATE INDEX kube_events_by_name ON kube_events(name, namespace) WHERE name IS NOT NULL;
)sql";
const char* const kFindingsWithCluster = R"sql(
CREATE TABLE findings_v13(
  id INTEGER PRIMARY KEY,
  cluster INTEGER NOT NULL DEFAULT 0,
  rule TEXT NOT NULL,
  priority TEXT NOT NULL,
  severity INTEGER NOT NULL,
  audit_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  time INTEGER NOT NULL,
  user TEXT,
  impersonated_user TEXT,
  namespace TEXT,
  resource TEXT,
  name TEXT,
  output TEXT NOT NULL,
  tags TEXT NOT NULL,
  UNIQUE(cluster, rule, audit_id, stage)
);
INSERT INTO findings_v13(id, cluster, rule, priority, severity, audit_id, stage, time, user,
  impersonated_user, namespace, resource, name, output, tags)
SELECT id, 0, rule, priority, severity, audit_id, stage, time, user, impersonated_user,
  namespace, resource, name, output, tags FROM findings;
DROP TABLE findings;
ALTER TABLE findings_v13 RENAME TO findings;
CREATE INDEX findings_by_time ON findings(time);
CREATE INDEX findings_by_audit ON findings(audit_id, stage);
)sql";
const char* const kReportDaysWithCluster = R"sql(
CREATE TABLE report_days_v13(
  day INTEGER NOT NULL,
  section INTEGER NOT NULL,
  cluster INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  imp_user_id INTEGER NOT NULL,
  verb_id INTEGER NOT NULL,
  resource_id INTEGER NOT NULL,
  subresource_id INTEGER NOT NULL,
  ns_id INTEGER NOT NULL,
  name_id INTEGER NOT NULL,
  code INTEGER NOT NULL,
  ips_id INTEGER NOT NULL,
  detail TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  PRIMARY KEY(day, section, cluster, user_id, imp_user_id, verb_id, resource_id, subresource_id,
    ns_id, name_id, code, ips_id, detail)
) WITHOUT ROWID;
INSERT INTO report_days_v13 SELECT day, section, 0, user_id, imp_user_id, verb_id, resource_id,
  subresource_id, ns_id, name_id, code, ips_id, detail, count, first_ts, last_ts FROM report_days;
DROP TABLE report_days;
ALTER TABLE report_days_v13 RENAME TO report_days;
)sql";
const char* const kAuditEventsWithCluster = R"sql(
DROP VIEW IF EXISTS audit_events;
CREATE VIEW audit_events AS
SELECT a.key, a.ts, a.received, a.audit_id,
  CASE a.stage WHEN 0 THEN 'RequestReceived' WHEN 1 THEN 'ResponseStarted'
    WHEN 2 THEN 'ResponseComplete' ELSE 'Panic' END AS stage,
  CASE a.level WHEN 0 THEN 'None' WHEN 1 THEN 'Metadata' WHEN 2 THEN 'Request'
    ELSE 'RequestResponse' END AS level,
  CASE coalesce(a.level_received, a.level) WHEN 0 THEN 'None' WHEN 1 THEN 'Metadata'
    WHEN 2 THEN 'Request' ELSE 'RequestResponse' END AS level_received,
  (SELECT value FROM dict WHERE id = a.verb_id) AS verb,
  (SELECT value FROM dict WHERE id = a.user_id) AS username,
  (SELECT value FROM dict WHERE id = a.groups_id) AS groups,
  (SELECT value FROM dict WHERE id = a.imp_user_id) AS impersonated_user,
  (SELECT value FROM dict WHERE id = a.resource_id) AS resource,
  (SELECT value FROM dict WHERE id = a.subresource_id) AS subresource,
  (SELECT value FROM dict WHERE id = a.ns_id) AS namespace,
  a.name, a.code,
  (SELECT value FROM dict WHERE id = a.ips_id) AS source_ips,
  (SELECT value FROM dict WHERE id = a.ua_id) AS user_agent,
  a.event_ref >> 8 AS block_id, a.event_ref & 255 AS block_index,
  coalesce((SELECT name FROM clusters WHERE id = a.cluster), 'default') AS cluster
FROM audit a;
)sql";

// Fills audit_displaced for the rows stored before version 9: every row not on its first key.
Status index_displaced_rows(sqlite::Db& db) {
  // A file stepped back from version 13 or later has clusters, part of the identity hash.
  auto has = sqlite::query_int(
      db, "SELECT count(*) FROM pragma_table_info('audit') WHERE name = 'cluster'");
  if (!has) {
    return has.status();
  }
  auto select = sqlite::Stmt::prepare(
      db, *has > 0 ? "SELECT key, audit_id, stage, received, ts, cluster FROM audit"
                   : "SELECT key, audit_id, stage, received, ts, 0 FROM audit");
  auto insert =
      sqlite::Stmt::prepare(db, "INSERT INTO audit_displaced(ts, hash, key) VALUES (?1, ?2, ?3)");
  if (!select) {
    return select.status();
  }
  if (!insert) {
    return insert.status();
  }
  int rc;
  while ((rc = select->step()) == SQLITE_ROW) {
    const std::int64_t key = select->column_int(0);
    const Micros ts = select->column_int(4);
    const std::uint64_t hash =
        identity_hash(select->column_text(1), static_cast<Stage>(select->column_int(2)),
                      select->column_int(3), ts, select->column_int(5));
    if (key == first_key(ts, hash)) {
      continue;
    }
    insert->bind(1, ts);
    insert->bind(2, static_cast<std::int64_t>(hash));
    insert->bind(3, key);
    const int done = insert->step();
    insert->reset();
    if (done != SQLITE_DONE) {
      return db.error("index a displaced audit row");
    }
  }
  return rc == SQLITE_DONE ? Status::ok() : db.error("read the audit rows");
}

Result<bool> has_cluster_column(sqlite::Db& db, const std::string& table) {
  auto has = sqlite::query_int(db, "SELECT count(*) FROM pragma_table_info('" + table +
                                       "') WHERE name = 'cluster'");
  if (!has) {
    return has.status();
  }
  return *has > 0;
}

Status add_cluster_columns(sqlite::Db& db) {
  for (const char* table : {"audit", "incidents", "dead_letters"}) {
    auto has = has_cluster_column(db, table);
    if (!has) {
      return has.status();
    }
    if (!*has) {
      std::string sql = kClusterColumnAdded;
      sql.replace(sql.find("%s"), 2, table);
      KTRAIL_RETURN_IF_ERROR(db.exec(sql));
    }
  }
  const std::pair<const char*, const char*> rebuilt[] = {{"kube_events", kKubeEventsWithCluster},
                                                          {"findings", kFindingsWithCluster},
                                                          {"report_days", kReportDaysWithCluster}};
  for (const auto& [table, sql] : rebuilt) {
    auto has = has_cluster_column(db, table);
    if (!has) {
      return has.status();
    }
    if (!*has) {
      KTRAIL_RETURN_IF_ERROR(db.exec(sql));
    }
  }
  return db.exec(kAuditEventsWithCluster);
}

// What a step does beyond its SQL, run in the same transaction: `version` is the version the
// step brings the file to.
Status after_migration(sqlite::Db& db, std::int64_t version) {
  if (version == 7) {
    return write_postings_of(db, "SELECT key, user_id, ns_id, resource_id FROM audit ORDER BY key",
                             262144);
  }
  if (version == 9) {
    return index_displaced_rows(db);
  }
  if (version == 11) {
    // The column is added only if missing: the step runs again harmlessly on a file whose
    // version was stepped back.
    auto has = sqlite::query_int(
        db, "SELECT count(*) FROM pragma_table_info('kube_events') WHERE name = 'received'");
    if (!has) {
      return has.status();
    }
    if (*has == 0) {
      return db.exec("ALTER TABLE kube_events ADD COLUMN received INTEGER NOT NULL DEFAULT 1");
    }
  }
  if (version == 12) {
    // Like the tables of this step, harmless to run again (on a file whose version was stepped
    // back): the column is added only when missing.
    auto has = sqlite::query_int(
        db, "SELECT count(*) FROM pragma_table_info('event_blocks') WHERE name = 'sealed'");
    if (!has) {
      return has.status();
    }
    if (*has == 0) {
      return db.exec("ALTER TABLE event_blocks ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0");
    }
  }
  if (version == 13) {
    return add_cluster_columns(db);
  }
  return Status::ok();
}

Status newer_error(std::int64_t found) {
  return database_error("the store has schema version " + std::to_string(found) +
                        ", newer than the version " + std::to_string(schema_version()) +
                        " this ktrail knows; use a newer ktrail");
}

}  // namespace

std::int64_t schema_version() { return static_cast<std::int64_t>(kMigrations.size()); }

Status migrate(sqlite::Db& db) { return migrate_to(db, schema_version()); }

Status migrate_to(sqlite::Db& db, std::int64_t target) {
  if (target < 1 || target > schema_version()) {
    return invalid_argument("no schema version " + std::to_string(target));
  }
  KTRAIL_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
  auto version = sqlite::query_int(db, "PRAGMA user_version");
  Status status = version.status();
  if (status.is_ok() && *version > schema_version()) {
    status = newer_error(*version);
  }
  for (std::int64_t v = version ? *version : 0; status.is_ok() && v < target; ++v) {
    status = db.exec(kMigrations[static_cast<std::size_t>(v)]);
    if (status.is_ok()) {
      status = after_migration(db, v + 1);
    }
    if (status.is_ok()) {
      status = db.exec("PRAGMA user_version = " + std::to_string(v + 1));
    }
    if (!status.is_ok()) {
      status = database_error("migration to schema version " + std::to_string(v + 1) +
                              " failed: " + status.message());
    }
  }
  if (!status.is_ok()) {
    (void)db.exec("ROLLBACK");
    return status;
  }
  return db.exec("COMMIT");
}

Status check_version(const sqlite::Db& db) {
  auto version = sqlite::query_int(db, "PRAGMA user_version");
  if (!version) {
    return version.status();
  }
  if (*version > schema_version()) {
    return newer_error(*version);
  }
  if (*version < schema_version()) {
    return database_error("the store has schema version " + std::to_string(*version) +
                          " but this ktrail needs " + std::to_string(schema_version()) +
                          "; open it once for writing (ktrail serve or ktrail ingest) to migrate");
  }
  return Status::ok();
}

}  // namespace ktrail::storage
