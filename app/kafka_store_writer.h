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
// Peer shards: stored_offset() also reads the offsets recorded in the other *.db files of
// `peer_dir` (read-only), so a member taking over a partition from one that died between its
// SQLite and Kafka commits starts after what the dead member stored. Shards on separate
// volumes cannot be read; then such a crash can leave a duplicate across shards, which the
// multi-shard query merge hides (docs/kafka.md).
//
// Group commit: write() receives what the consumer's store thread took from its queue, possibly
// several batches of several partitions, and writes them as ONE batch in one transaction with
// all their offsets (the store's per-transaction costs are paid once for all of them). The
// merged batch's origin names the partitions it came from (it labels dead letters).
//
// Threads: process(), assigned() and revoked() run on the consumer's thread, write() on its
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
