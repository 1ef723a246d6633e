// Private to storage/: the state behind a Store (connection, prepared statements, caches).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/block_compressor.h"
#include "storage/checkpointer.h"
#include "storage/dictionary.h"
#include "storage/event_codec.h"
#include "storage/rollups.h"
#include "storage/sealer.h"
#include "storage/segments.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace ktrail {

struct Store::Impl {
  StoreOptions options;
  sqlite::Db db;
  std::optional<storage::Dictionary> dict;
  std::unique_ptr<storage::BlockPacker> packer;
  std::unique_ptr<storage::BlockCompressor> compressor;
  std::int64_t next_block_id = 1;
  std::string groups_text;  // reused per event
  std::string ips_text;
  // Writer statements, prepared once on first write.
  sqlite::Stmt insert_audit;
  sqlite::Stmt select_identity;
  sqlite::Stmt upsert_kube_event;
  sqlite::Stmt uid_by_name;
  sqlite::Stmt adopt_uid;
  sqlite::Stmt mark_received;
  sqlite::Stmt insert_dead_letter;
  sqlite::Stmt insert_block;
  sqlite::Stmt upsert_incident;
  sqlite::Stmt upsert_member;
  sqlite::Stmt insert_finding;
  sqlite::Stmt insert_cluster;
  sqlite::Stmt max_key_in_range;
  sqlite::Stmt find_displaced;
  sqlite::Stmt last_displaced;
  sqlite::Stmt insert_displaced;
  sqlite::Stmt insert_pending;
  sqlite::Stmt insert_pending_many;  // kPendingRowsPerInsert rows at once
  std::int64_t pending_rows = -1;    // rows in audit_pending; -1: to be counted
  // The audit_pending rows of this transaction's new events, inserted together before COMMIT:
  // one statement per many rows, in key order, appends at the table's end.
  struct PendingRow {
    std::int64_t key;
    std::int64_t name_id;  // 0: none
    std::int64_t user_id;
    std::int64_t ns_id;
    std::int64_t resource_id;
    bool operator<(const PendingRow& o) const { return key < o.key; }
  };
  std::vector<PendingRow> rows_to_add;
  // Report rollups and coverage counters of this transaction (storage/rollups.h), and the
  // coverage source (dict id) of the batch being written.
  storage::Rollups rollups;
  std::int64_t source_id = 0;
  // The clusters.id of the batch being written (core/cluster.h), and the ids of the clusters
  // recorded in `clusters` (emptied on a rollback, which may have taken new ones back).
  std::int64_t cluster_id = 0;
  std::unordered_map<std::string, std::int64_t> cluster_ids;
  // The id of cluster `name`, recorded in `clusters` on first use (inside the transaction).
  Result<std::int64_t> cluster_id_of(const std::string& name);
  // The sealed identities a late event is checked against, and which segments the cache
  // reflects (max id and count of `segments`, read at each transaction's start).
  storage::SealedIdentities sealed;
  std::pair<std::int64_t, std::int64_t> segments_seen{-1, -1};
  Micros sealed_max_ts = -1;  // newest stageTimestamp in any segment; -1: none
  Status refresh_sealed();
  // Seals due partitions off the writer thread when options.seal_after > 0.
  std::unique_ptr<storage::Sealer> sealer;
  // Last: stopped before the connection it hooks closes.
  std::unique_ptr<storage::Checkpointer> checkpointer;

  Status prepare_writer();
  // Writes one batch of a group, inside the group's transaction; adds to `outcome`.
  Status write_one(const Batch& batch, Micros now, BatchOutcome* outcome);
  Status prepare_incident_writer();
  // Stores one audit event; adds to `outcome`.
  Status write_audit(const AuditEvent& event, const std::string& origin, Micros now,
                     BatchOutcome* outcome);
  // Inserts the rows_to_add into audit_pending, inside the transaction.
  Status insert_pending_rows();
  Status count_pending_rows();
  // Once audit_pending holds options.index_merge_rows rows, moves their names into audit_names
  // and their user, namespace and resource into audit_postings (storage/postings.h).
  Status merge_pending_if_due();
  // Hands the events collected in `packer` to the compressor as block `next_block_id`.
  Status flush_block();
  // Inserts the blocks the compressor has finished (before COMMIT).
  Status insert_blocks();
  Status load_next_block_id();
  // What holds an audit key: nothing, the same identity as `e`, or another one.
  enum class IdentityAt { kFree, kSame, kOther };
  Status identity_at(std::int64_t key, const AuditEvent& e, IdentityAt* at);
  // The largest used key from `key` to the end of its microsecond's slots (key - 1 if none).
  Status last_key_in_slots(std::int64_t key, std::int64_t* last);
  // Whether `e`'s identity (hash `hash`) is stored on a displaced row (schema.cpp, version 9).
  Status stored_displaced(const AuditEvent& e, std::uint64_t hash, bool* stored);
  // The first free key past the occupied run that holds `from`, for an event of `stage_time`.
  Status free_key_after(Micros stage_time, std::int64_t from, std::int64_t* key);
  // Records that the row of identity (stage_time, hash) sits on `key`, not on its first key.
  Status add_displaced(Micros stage_time, std::uint64_t hash, std::int64_t key);
  Status write_kube_event(const KubeEvent& event, const std::string& origin, Micros now,
                          BatchOutcome* outcome);
  // The uid of the row `event` goes to (see Store's contract); "" when it has no identity.
  Status kube_event_identity(const KubeEvent& event, std::string* uid);
  // Upserts an incident and its (new or updated) members (storage/store_incidents.cpp).
  Status write_incident(const Incident& incident, std::int64_t cluster);
  // Inserts a finding unless (rule, auditID, stage) is stored (storage/store_findings.cpp).
  Status write_finding(const Finding& finding);
  Status write_dead_letter(std::string_view reason, std::string_view raw, const std::string& origin,
                           Micros now);
};

}  // namespace ktrail
