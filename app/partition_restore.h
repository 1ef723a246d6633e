// The process role's per-partition processor chains (Kafka mode), with the correlator of each
// newly owned partition rebuilt from what belongs to that partition.
//
// What belongs to partition p of N: the stored audit events and Kubernetes Events whose message
// key (queue/kafka_keys.h) the producer's partitioner sends to p (kafka::partition_for_key
// computes the same choice), and the open incidents whose signals are keyed to p
// (kafka::partition_key(Incident)). They are read from this member's shard and, read-only, from
// the peer shards of the directory (those that record the same deployment: app/kafka_peers.h),
// since the previous owner of the partition wrote there; the merge of app/shards.h combines
// what two shards hold of one incident or Event.
// The restore is bounded as at start-up (app/correlation_restore.h): the stores are read once
// for all the partitions of one assignment, then replayed per partition.
//
// A shard of the peer directory that cannot be opened (being created, another schema version)
// is skipped with a warning; an unknown partition count skips the restore (nothing could be
// attributed): the chains then start empty, as before a restore existed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/correlation_restore.h"
#include "app/kafka_store_writer.h"
#include "app/serve_options.h"

namespace ktrail::app {

// Keeps the items and open incidents of partition `partition` of `partition_count`.
RestoreScope partition_scope(std::int32_t partition, std::int32_t partition_count);

// The peer shards of `own` in `peer_dir` (app/kafka_peers.h: the stores that record the same
// deployment as `own`), opened read-only. The other stores of the directory, and peers that
// cannot be opened, are skipped with a warning; `described` (optional) lists what was read and
// what was not, for the start-up log.
std::vector<std::unique_ptr<Store>> open_peer_shards(const std::string& peer_dir, Store& own,
                                                     std::string* described = nullptr);

struct PartitionChainOptions {
  ServeOptions serve;    // policy, redaction, truncation and rules, as for embedded mode
  std::string peer_dir;  // where the other members' shards are; empty: none
};

// The ChainFactory of the process role: make_processor_chain() per partition, then the restore.
ChainFactory make_partition_chain_factory(PartitionChainOptions options);

}  // namespace ktrail::app
