// The process role's end of the Kafka buffer: a kafka::BatchWriter that runs each consumed
// batch through a per-partition processor chain (policy, correlation) and writes it to this
// member's SQLite shard, recording the Kafka offsets in the same transaction
// (storage/source_offsets.h).
//
// Partition state: the chain of a partition index is built when the index is assigned and
// dropped when it is revoked, so correlator state never mixes partitions, and a partition that
// moves starts from what the stores hold of it (the chain factory rebuilds it:
// app/partition_restore.h).
//
// Peer shards: the writer records the deployment (topic prefix, consumer group) in its shard
// at creation (storage/shard_identity.h), and stored_offset() also reads the offsets recorded
// in the other shards of `peer_dir` that record the same deployment (app/kafka_peers.h,
// read-only), so a member taking over a partition from one that died between its SQLite and
// Kafka commits starts after what the dead member stored. Shards on separate
// volumes cannot be read; then such a crash can leave a duplicate across shards, which the
// multi-shard query merge hides (docs/kafka.md).
//
// Group commit: write() receives what the consumer's store thread took from its queue, possibly
// several batches of several partitions, and writes them as ONE batch in one transaction with
// all their offsets (the store's per-transaction costs are paid once for all of them). The
// merged batch's origin names the partitions it came from (it labels dead letters).
//
// Quiet partitions (kafka::BatchWriter::idle): a partition index that receives nothing would
// hold its correlator's reorder window, and the incidents behind it, until its next message.
// Its event time follows the other owned indexes' instead: the lowest watermark among those
// still receiving, since one stream (the apiserver's) is spread over the partitions by key.
// When every owned index is quiet (a replayed file ended, or the cluster went still) all the
// windows are released, as `ktrail ingest` does at the end of its input, and at shutdown too.
// An item that then arrives older than what was released is read at once and counted late.
//
// Threads: process(), assigned(), revoked(), idle() and finish() run on the consumer's thread, write() on its
// store thread; the store is used under a mutex, so a chain built for an unannounced partition
// never reads the store while a write runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "processors/processor.h"
#include "queue/kafka_consumer.h"
#include "storage/shard_identity.h"
#include "storage/store.h"

namespace ktrail::app {

using ProcessorChain = std::vector<std::unique_ptr<Processor>>;
// Builds the chains of newly owned partition indexes, of `partition_count` per topic (0 when
// unknown); may read `store` (this member's shard) and write to it to rebuild correlator state.
// Returns one chain per index asked for.
using ChainFactory = std::function<std::map<std::int32_t, ProcessorChain>(
    const std::vector<std::int32_t>& partitions, std::int32_t partition_count, Store& store)>;

struct KafkaStoreWriterOptions {
  std::string peer_dir;  // directory of the other members' shards; empty: none
  // The deployment this member belongs to, recorded in its shard; required with `peer_dir`.
  // A shard that records another deployment is refused.
  ShardIdentity identity;
};

class KafkaStoreWriter final : public kafka::BatchWriter {
 public:
  static Result<std::unique_ptr<KafkaStoreWriter>> create(Store* store, ChainFactory factory,
                                                          KafkaStoreWriterOptions options);

  void process(std::int32_t partition, Batch& batch, BatchOutcome& outcome) override;
  Status write(std::vector<kafka::PartitionBatch>& group) override;
  std::int64_t stored_offset(const std::string& topic, std::int32_t partition) override;
  void assigned(const std::vector<std::int32_t>& partitions, std::int32_t partition_count) override;
  void revoked(const std::vector<std::int32_t>& partitions) override;
  // Quiet indexes follow the lowest event time of the indexes still receiving (their reorder
  // windows release what that time has passed); when all are quiet, every window is released,
  // as at the end of a replay.
  void idle(const std::vector<std::int32_t>& quiet, bool all_quiet, Batch& batch) override;
  void finish(Batch& batch) override;

  // Partition indexes this member owns now.
  std::size_t owned_partitions() const { return owned_.load(); }
  // What the writes so far amounted to (read after the consumer stopped).
  const BatchOutcome& totals() const { return totals_; }

 private:
  KafkaStoreWriter(Store* store, ChainFactory factory, KafkaStoreWriterOptions options)
      : store_(store), factory_(std::move(factory)), options_(std::move(options)) {}

  ProcessorChain& chain_of(std::int32_t partition);

  Store* store_;
  std::mutex store_mutex_;
  ChainFactory factory_;
  KafkaStoreWriterOptions options_;
  std::map<std::int32_t, ProcessorChain> chains_;  // consumer's thread
  std::int32_t partition_count_ = 0;               // as of the last assignment
  BatchOutcome totals_;                            // store thread
  std::atomic<std::size_t> owned_{0};
};

}  // namespace ktrail::app
