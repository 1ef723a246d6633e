#include "app/partition_restore.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "app/processor_chain.h"
#include "processors/correlate/processor.h"
#include "queue/kafka_keys.h"

namespace ktrail::app {
namespace {

correlate::CorrelateProcessor* correlation_of(ProcessorChain& chain) {
  for (auto& stage : chain) {
    if (auto* c = dynamic_cast<correlate::CorrelateProcessor*>(stage.get())) {
      return c;
    }
  }
  return nullptr;
}

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
  const auto peers = options.peer_dir.empty() ? std::vector<std::unique_ptr<Store>>()
                                              : open_peer_shards(options.peer_dir, store);
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
  for (auto& [partition, chain] : chains) {
    correlate::CorrelateProcessor* correlation = correlation_of(chain);
    if (correlation == nullptr) {
      continue;
    }
    auto restored = replay_restore_input(*input, partition_scope(partition, partition_count),
                                         stores, correlation->correlator());
    if (!restored) {
      spdlog::error("kafka: correlation restore of partition {}: {}", partition,
                    restored.status().to_string());
      continue;
    }
    spdlog::info(
        "kafka: partition {}: {} open incidents re-seeded, {} items replayed from {} "
        "shards",
        partition, restored->open_incidents, restored->replayed, stores.size());
    std::move(restored->updates.begin(), restored->updates.end(),
              std::back_inserter(updates.incidents));
  }
  if (!updates.incidents.empty()) {
    if (auto written = store.write_batch(updates); !written) {
      spdlog::error("kafka: correlation restore: writing {} incidents: {}",
                    updates.incidents.size(), written.status().to_string());
    }
  }
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

std::vector<std::unique_ptr<Store>> open_peer_shards(const std::string& peer_dir,
                                                     const Store& own) {
  std::vector<std::unique_ptr<Store>> peers;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::weakly_canonical(own.path(), ec);
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(peer_dir, ec)) {
    std::error_code ec2;
    if (entry.path().extension() == ".db" && entry.is_regular_file(ec2) &&
        std::filesystem::weakly_canonical(entry.path(), ec2) != self) {
      files.push_back(entry.path());
    }
  }
  if (ec) {
    spdlog::warn("kafka: cannot list peer shards in {}: {}", peer_dir, ec.message());
  }
  std::sort(files.begin(), files.end());
  StoreOptions options;
  options.read_only = true;
  options.cache_mib = 16;
  for (const auto& file : files) {
    auto peer = Store::open(file.string(), options);
    if (!peer) {
      spdlog::warn("kafka: peer shard {} not read: {}", file.string(), peer.status().to_string());
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
