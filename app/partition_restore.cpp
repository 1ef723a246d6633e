#include "app/partition_restore.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "app/kafka_peers.h"
#include "app/processor_chain.h"
#include "processors/carried_events.h"
#include "processors/correlate/processor.h"
#include "queue/kafka_keys.h"

namespace ktrail::app {
namespace {

// Reads the stores once and replays into the correlator of every chain; writes what the
// replays re-derive to `store`.
void restore_partitions(std::map<std::int32_t, ProcessorChain>& chains,
                        std::int32_t partition_count, Store& store,
                        const PartitionChainOptions& options) {
  if (partition_count < 1) {
    spdlog::warn("kafka: partition count unknown: correlation of {} partitions starts empty",
                 chains.size());
    return;
  }
  correlate::Rules rules;
  if (!options.serve.rules.empty()) {
    auto loaded = correlate::load_rules_file(options.serve.rules);
    if (!loaded) {
      spdlog::error("kafka: correlation restore: {}", loaded.status().to_string());
      return;
    }
    rules = std::move(*loaded);
  }
  const auto began = std::chrono::steady_clock::now();
  std::string peer_note = "none";
  const auto peers = options.peer_dir.empty()
                         ? std::vector<std::unique_ptr<Store>>()
                         : open_peer_shards(options.peer_dir, store, &peer_note);
  std::vector<Store*> stores = {&store};
  for (const auto& peer : peers) {
    stores.push_back(peer.get());
  }
  auto input = read_restore_input(stores, restore_horizon(rules));
  if (!input) {
    spdlog::error("kafka: correlation restore: reading the shards: {}", input.status().to_string());
    return;
  }
  Batch updates;
  updates.origin = "correlation restore";
  std::size_t open_incidents = 0;
  std::size_t replayed = 0;
  std::string partitions;
  for (auto& [partition, chain] : chains) {
    const RestoreScope scope = partition_scope(partition, partition_count);
    for (auto& stage : chain) {
      if (auto* carried = dynamic_cast<CarriedEventsProcessor*>(stage.get())) {
        replay_carried_events(*input, scope, *carried);
      }
    }
    correlate::CorrelateProcessor* correlation = correlate::correlation_stage(chain);
    if (correlation == nullptr) {
      continue;
    }
    auto restored = replay_restore_input(*input, scope, stores, *correlation);
    if (!restored) {
      spdlog::error("kafka: correlation restore of partition {}: {}", partition,
                    restored.status().to_string());
      continue;
    }
    spdlog::info("kafka: partition {}: {} open incidents re-seeded, {} items replayed", partition,
                 restored->open_incidents, restored->replayed);
    open_incidents += restored->open_incidents;
    replayed += restored->replayed;
    partitions += (partitions.empty() ? "" : ",") + std::to_string(partition);
    std::move(restored->updates.begin(), restored->updates.end(),
              std::back_inserter(updates.incidents));
  }
  const std::size_t updated = updates.incidents.size();
  if (!updates.incidents.empty()) {
    if (auto written = store.write_batch(updates); !written) {
      spdlog::error("kafka: correlation restore: writing {} incidents: {}",
                    updates.incidents.size(), written.status().to_string());
    }
  }
  spdlog::info(
      "kafka: restored from the store for partitions {} of {}: {} open incidents re-seeded, {} "
      "recent items replayed into correlation, {} incidents updated, from {} shards (this one; "
      "peers: {}), in {} ms",
      partitions.empty() ? "(none)" : partitions, partition_count, open_incidents, replayed,
      updated, stores.size(), peer_note,
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                            began)
          .count());
}

}  // namespace

RestoreScope partition_scope(std::int32_t partition, std::int32_t partition_count) {
  auto ours = [partition, partition_count](const std::string& key) {
    return kafka::partition_for_key(key, partition_count) == partition;
  };
  RestoreScope scope;
  scope.audit = [ours](const AuditEvent& e) { return ours(kafka::partition_key(e)); };
  scope.event = [ours](const KubeEvent& e) { return ours(kafka::partition_key(e)); };
  scope.incident = [ours](const Incident& i) { return ours(kafka::partition_key(i)); };
  return scope;
}

std::vector<std::unique_ptr<Store>> open_peer_shards(const std::string& peer_dir, Store& own,
                                                     std::string* described) {
  std::vector<std::unique_ptr<Store>> peers;
  auto identity = read_shard_identity(own.handle());
  if (!identity || !identity->has_value()) {
    const std::string why = identity ? "this shard records no Kafka deployment"
                                     : identity.status().to_string();
    spdlog::warn("kafka: no peer shards read: {}", why);
    if (described != nullptr) {
      *described = "none (" + why + ")";
    }
    return peers;
  }
  const PeerShards found = find_peer_shards(peer_dir, own.path(), **identity);
  for (const auto& [path, why] : found.others) {
    spdlog::warn("kafka: {} is not a peer shard: {}", path, why);
  }
  if (described != nullptr) {
    *described = describe_peers(found);
  }
  StoreOptions options;
  options.read_only = true;
  options.cache_mib = 16;
  for (const std::string& file : found.peers) {
    auto peer = Store::open(file, options);
    if (!peer) {
      spdlog::warn("kafka: peer shard {} not read: {}", file, peer.status().to_string());
      continue;
    }
    peers.push_back(std::move(*peer));
  }
  return peers;
}

ChainFactory make_partition_chain_factory(PartitionChainOptions options) {
  return [options = std::move(options)](const std::vector<std::int32_t>& partitions,
                                        std::int32_t partition_count, Store& store) {
    std::map<std::int32_t, ProcessorChain> chains;
    for (std::int32_t p : partitions) {
      auto chain = make_processor_chain(options.serve);
      if (!chain) {
        // Checked at start-up already; a rules file changed since is reported here.
        spdlog::error("kafka: processors of partition {}: {}", p, chain.status().to_string());
        chains[p];
        continue;
      }
      chains[p] = std::move(*chain);
    }
    restore_partitions(chains, partition_count, store, options);
    return chains;
  };
}

}  // namespace ktrail::app
