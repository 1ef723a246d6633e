// Private to storage/: the state behind a Store (connection, prepared statements, caches).
#pragma once

#include <memory>
#include <optional>

#include "storage/dictionary.h"
#include "storage/event_codec.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace ktrail {

struct Store::Impl {
  StoreOptions options;
  sqlite::Db db;
  std::optional<storage::Dictionary> dict;
  std::unique_ptr<storage::BlockPacker> packer;
  std::int64_t next_block_id = 1;
  // Writer statements, prepared once on first write.
  sqlite::Stmt insert_audit;
  sqlite::Stmt select_identity;
  sqlite::Stmt upsert_kube_event;
  sqlite::Stmt insert_dead_letter;
  sqlite::Stmt insert_block;

  Status prepare_writer();
  // Stores one audit event; adds to `outcome`.
  Status write_audit(const AuditEvent& event, const std::string& origin, Micros now,
                     BatchOutcome* outcome);
  // Writes the events collected in `packer` as block `next_block_id`.
  Status flush_block();
  Status load_next_block_id();
  Status write_kube_event(const KubeEvent& event, const std::string& origin, Micros now,
                          BatchOutcome* outcome);
  Status write_dead_letter(std::string_view reason, std::string_view raw, const std::string& origin,
                           Micros now);
};

}  // namespace ktrail
