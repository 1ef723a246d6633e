#include "app/kafka_peers.h"

#include <algorithm>
#include <filesystem>

namespace ktrail::app {

PeerShards find_peer_shards(const std::string& dir, const std::string& own_path,
                            const ShardIdentity& identity) {
  PeerShards out;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::weakly_canonical(own_path, ec);
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code ec2;
    if (entry.path().extension() == ".db" && entry.is_regular_file(ec2) &&
        std::filesystem::weakly_canonical(entry.path(), ec2) != self) {
      files.push_back(entry.path());
    }
  }
  if (ec) {
    out.others.emplace_back(dir, "cannot be listed: " + ec.message());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto recorded = read_shard_identity_file(file.string());
    if (!recorded) {
      out.others.emplace_back(file.string(), "not read: " + recorded.status().message());
    } else if (!recorded->has_value()) {
      out.others.emplace_back(file.string(), "records no Kafka deployment");
    } else if (!(**recorded == identity)) {
      out.others.emplace_back(file.string(), "records " + (*recorded)->describe());
    } else {
      out.peers.push_back(file.string());
    }
  }
  return out;
}

std::string describe_peers(const PeerShards& shards) {
  std::string out;
  for (const std::string& p : shards.peers) {
    out += (out.empty() ? "" : ", ") + std::filesystem::path(p).filename().string();
  }
  if (out.empty()) {
    out = "none";
  }
  if (!shards.others.empty()) {
    out += "; not peers: ";
    for (std::size_t i = 0; i < shards.others.size(); ++i) {
      out += (i ? ", " : "") + std::filesystem::path(shards.others[i].first).filename().string() +
             " (" + shards.others[i].second + ")";
    }
  }
  return out;
}

}  // namespace ktrail::app
