#include "app/kafka_store_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "app/kafka_peers.h"
#include "processors/correlate/processor.h"
#include "storage/source_offsets.h"

namespace ktrail::app {
namespace {

std::string source_of(const std::string& topic) { return "kafka:" + topic; }

}  // namespace

Result<std::unique_ptr<KafkaStoreWriter>> KafkaStoreWriter::create(
    Store* store, ChainFactory factory, KafkaStoreWriterOptions options) {
  if (store == nullptr) {
    return invalid_argument("kafka store writer: no store");
  }
  KTRAIL_RETURN_IF_ERROR(ensure_source_offsets(store->handle()));
  if (!options.identity.topic_prefix.empty() || !options.identity.group.empty()) {
    if (Status s = record_shard_identity(store->handle(), options.identity); !s.is_ok()) {
      return Status(s.code(), store->path() + ": " + s.message());
    }
  } else if (!options.peer_dir.empty()) {
    return invalid_argument("kafka store writer: peer shards need the deployment's identity");
  }
  if (!factory) {
    factory = [](const std::vector<std::int32_t>& partitions, std::int32_t, Store&) {
      std::map<std::int32_t, ProcessorChain> chains;
      for (std::int32_t p : partitions) {
        chains[p];
      }
      return chains;
    };
  }
  return std::unique_ptr<KafkaStoreWriter>(
      new KafkaStoreWriter(store, std::move(factory), std::move(options)));
}

ProcessorChain& KafkaStoreWriter::chain_of(std::int32_t partition) {
  auto chain = chains_.find(partition);
  if (chain == chains_.end()) {
    // A batch of an index not (yet) announced: build its chain now rather than skip policy.
    std::lock_guard lock(store_mutex_);
    auto built = factory_({partition}, partition_count_, *store_);
    chain = chains_.emplace(partition, std::move(built[partition])).first;
  }
  return chain->second;
}

void KafkaStoreWriter::process(std::int32_t partition, Batch& batch, BatchOutcome& outcome) {
  for (auto& processor : chain_of(partition)) {
    processor->process(batch, outcome);
  }
}

Status KafkaStoreWriter::write(std::vector<kafka::PartitionBatch>& group) {
  if (group.empty()) {
    return Status::ok();
  }
  // One batch for the whole group (the store's transaction costs are paid once). The store
  // thread's queue usually merged it already; what is left is moved here, not copied.
  kafka::PartitionBatch& all = group.front();
  for (std::size_t i = 1; i < group.size(); ++i) {
    kafka::append_partition_batch(all, group[i]);
  }
  all.batch.origin = kafka::kafka_origin(all.partitions);
  std::lock_guard lock(store_mutex_);
  auto written = store_->write_batch(all.batch, [&](sqlite3* db) -> Status {
    // An older position never replaces a newer one (storage/source_offsets.h), so the order of
    // the group's offsets does not matter.
    for (const kafka::SourceOffset& o : all.offsets) {
      KTRAIL_RETURN_IF_ERROR(
          record_source_offset(db, source_of(o.topic), o.partition, o.next_offset));
    }
    return Status::ok();
  });
  if (!written) {
    return written.status();
  }
  totals_ += *written;
  totals_ += all.outcome;
  return Status::ok();
}

std::int64_t KafkaStoreWriter::stored_offset(const std::string& topic, std::int32_t partition) {
  std::lock_guard lock(store_mutex_);
  std::int64_t best = -1;
  auto own = read_source_offset(store_->handle(), source_of(topic), partition);
  if (own && own->has_value()) {
    best = **own;
  }
  if (options_.peer_dir.empty()) {
    return best;
  }
  for (const std::string& path :
       find_peer_shards(options_.peer_dir, store_->path(), options_.identity).peers) {
    auto peer = read_source_offset_file(path, source_of(topic), partition);
    if (!peer) {
      spdlog::warn("kafka: cannot read offsets of shard {}: {}", path, peer.status().to_string());
    } else if (peer->has_value() && **peer > best) {
      best = **peer;
    }
  }
  return best;
}

void KafkaStoreWriter::assigned(const std::vector<std::int32_t>& partitions,
                                std::int32_t partition_count) {
  if (partition_count > 0) {
    partition_count_ = partition_count;
  }
  std::map<std::int32_t, ProcessorChain> built;
  {
    std::lock_guard lock(store_mutex_);
    built = factory_(partitions, partition_count_, *store_);
  }
  for (std::int32_t p : partitions) {
    chains_[p] = std::move(built[p]);
  }
  owned_ = chains_.size();
}

void KafkaStoreWriter::revoked(const std::vector<std::int32_t>& partitions) {
  for (std::int32_t p : partitions) {
    chains_.erase(p);
  }
  owned_ = chains_.size();
}

void KafkaStoreWriter::idle(const std::vector<std::int32_t>& quiet, bool all_quiet,
                            Batch& batch) {
  if (all_quiet) {
    for (std::int32_t p : quiet) {
      auto chain = chains_.find(p);
      if (chain == chains_.end()) {
        continue;
      }
      if (auto* correlation = correlate::correlation_stage(chain->second)) {
        correlation->finish(batch);
      }
    }
    return;
  }
  // The lowest event time among the indexes still receiving.
  Micros low = 0;
  for (auto& [p, chain] : chains_) {
    if (std::find(quiet.begin(), quiet.end(), p) != quiet.end()) {
      continue;
    }
    auto* correlation = correlate::correlation_stage(chain);
    const Micros seen = correlation != nullptr ? correlation->correlator().watermark() : 0;
    if (seen > 0 && (low == 0 || seen < low)) {
      low = seen;
    }
  }
  if (low == 0) {
    return;
  }
  for (std::int32_t p : quiet) {
    auto chain = chains_.find(p);
    if (chain == chains_.end()) {
      continue;
    }
    if (auto* correlation = correlate::correlation_stage(chain->second)) {
      correlation->advance_to(low, batch);
    }
  }
}

void KafkaStoreWriter::finish(Batch& batch) {
  for (auto& [p, chain] : chains_) {
    if (auto* correlation = correlate::correlation_stage(chain)) {
      correlation->finish(batch);
    }
  }
}

}  // namespace ktrail::app
