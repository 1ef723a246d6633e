// The peer shards of a process-role member (Kafka mode): the other stores of its directory that
// record the same deployment, i.e. the same topic prefix and consumer group
// (storage/shard_identity.h). A member reads its peers' offsets (where a partition it takes
// over resumes) and their stored items and open incidents (what its correlator restarts from).
//
// Being in the directory is not enough: a store that records another deployment, none at all
// (an embedded store, a shard written before identities were recorded), or that cannot be read
// is left out, and said so, so a fresh shard never adopts what an unrelated store holds.
#pragma once

#include <string>
#include <vector>

#include "storage/shard_identity.h"

namespace ktrail::app {

struct PeerShards {
  std::vector<std::string> peers;  // paths, sorted
  // The other *.db files of the directory, with why each is not a peer.
  std::vector<std::pair<std::string, std::string>> others;
};

// The *.db files of `dir` other than `own_path` that record `identity`. A directory that cannot
// be listed gives none (in `others`, with the reason).
PeerShards find_peer_shards(const std::string& dir, const std::string& own_path,
                            const ShardIdentity& identity);

// "a.db, b.db" / "x.db (records topics ...)", for logs.
std::string describe_peers(const PeerShards& shards);

}  // namespace ktrail::app
