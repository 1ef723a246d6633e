// Which cluster a webhook request belongs to (core/cluster.h), from what authenticated it.
//
// Sources, strongest first:
//  - the credential: a token-file line `TOKEN,cluster` (ingest/auth.h), or the verified client
//    certificate: its CN, then each of its DNS and URI SANs, looked up in the client cluster map
//    (`--client-cluster-map FILE`); without a map, the CN itself when it is a valid cluster name.
//    A token and a certificate that name two different clusters are refused (403).
//  - the request path: POST /audit/{cluster} and /events/{cluster}. A credential that names a
//    cluster may only post to that cluster's path (or to the bare path); another claim is
//    refused with 403. A credential that names no cluster may post to any cluster's path.
//  - otherwise "default".
//
// The client cluster map holds one `identity,cluster` a line (the identity is a certificate CN
// or SAN and may hold commas: the line splits at its last comma); blank lines and lines starting
// with '#' are ignored, white space around both parts is trimmed. An identity listed twice with
// two clusters, an empty identity and an invalid cluster name are errors naming the file and
// line.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ktrail::ingest {

class ClientClusterMap {
 public:
  static Result<ClientClusterMap> from_file(const std::string& path);
  static Result<ClientClusterMap> from_text(std::string_view text, const std::string& origin);

  // The cluster of the first of `identities` (CN first, then SANs) the map lists, or "".
  std::string cluster_of(const std::vector<std::string>& identities) const;
  std::size_t size() const { return clusters_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> clusters_;
};

// What a request's credentials and path say about its cluster ("" where one says nothing).
struct ClusterClaims {
  std::string token;
  std::string certificate;
  std::string path;
};

struct ClusterDecision {
  std::string cluster;         // the request's cluster, when not refused
  std::string refused_reason;  // non-empty: answer 403 (the reason names clusters, no secret)
};

ClusterDecision decide_cluster(const ClusterClaims& claims);

}  // namespace ktrail::ingest
