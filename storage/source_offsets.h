// Positions in an external source (Kafka topic partitions) kept in the store itself.
//
// The process role records, inside the transaction of each batch (Store::write_batch with
// `also`), the next Kafka offset to read for every partition the batch came from. The store is
// then the truth about what it holds: when a partition is assigned, the consumer starts from
// the larger of Kafka's committed offset and the offsets recorded in the shards, so a crash
// between the SQLite commit and the Kafka commit does not make the next owner write the same
// messages into another shard.
//
// The table (source_offsets) is created on first use and lives beside the data; a shard
// without it simply has no recorded positions.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"

namespace ktrail {

// Creates the table when missing (on a writable connection).
Status ensure_source_offsets(sqlite3* db);

// Records `next_offset` for (source, partition); an older position never replaces a newer one.
Status record_source_offset(sqlite3* db, const std::string& source, std::int32_t partition,
                            std::int64_t next_offset);

// The recorded position, or nullopt when there is none (no row, or no table).
Result<std::optional<std::int64_t>> read_source_offset(sqlite3* db, const std::string& source,
                                                       std::int32_t partition);

// The same, from a shard file opened read-only for the call (another replica's shard).
Result<std::optional<std::int64_t>> read_source_offset_file(const std::string& path,
                                                            const std::string& source,
                                                            std::int32_t partition);

}  // namespace ktrail
