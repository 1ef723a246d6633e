// Which Kafka deployment a store belongs to, recorded in the store itself.
//
// The process role of Kafka mode writes one shard per member, in one directory. A member reads
// the other shards of its deployment (offsets, and what to restore of a partition it takes
// over), and only those: a store that happens to sit in the same directory (another
// deployment's shard, an embedded store, a copy) is not a peer. What makes a peer is what the
// deployment is: the topic prefix it consumes and its consumer group. The process role records
// both in its shard at start (store_meta keys 'kafka_topic_prefix' and 'kafka_group', stored as
// blobs so that no column affinity turns a numeric-looking name into a number), and a shard is
// a peer only when it records the same two.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>

#include "core/status.h"

namespace ktrail {

struct ShardIdentity {
  std::string topic_prefix;
  std::string group;
  bool operator==(const ShardIdentity& o) const {
    return topic_prefix == o.topic_prefix && group == o.group;
  }
  // "topics ktrail.* / group ktrail-process", for messages.
  std::string describe() const;
};

// Records `identity` in a writable store. A store that already records another identity is
// refused (kInvalidArgument, naming both): its contents belong to another deployment.
Status record_shard_identity(sqlite3* db, const ShardIdentity& identity);

// The recorded identity, or nullopt when the store records none (not a Kafka shard, or one
// written before identities were recorded).
Result<std::optional<ShardIdentity>> read_shard_identity(sqlite3* db);

// The same, from a store file opened read-only for the call.
Result<std::optional<ShardIdentity>> read_shard_identity_file(const std::string& path);

}  // namespace ktrail
