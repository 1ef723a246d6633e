#include "ingest/cluster_auth.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "core/cluster.h"

namespace ktrail::ingest {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Result<ClientClusterMap> ClientClusterMap::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return io_error("cannot read client cluster map " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return from_text(text.str(), path);
}

Result<ClientClusterMap> ClientClusterMap::from_text(std::string_view text,
                                                     const std::string& origin) {
  ClientClusterMap map;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const std::string where =
        "client cluster map " + origin + " line " + std::to_string(line_number);
    const auto comma = line.rfind(',');
    if (comma == std::string_view::npos) {
      return invalid_argument(where + ": expected IDENTITY,cluster");
    }
    const std::string_view identity = trim(line.substr(0, comma));
    const std::string_view cluster = trim(line.substr(comma + 1));
    if (identity.empty()) {
      return invalid_argument(where + ": no certificate identity before the comma");
    }
    for (const char c : identity) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f) {
        return invalid_argument(where + ": the identity holds a control character");
      }
    }
    KTRAIL_RETURN_IF_ERROR(check_cluster_name(cluster, where + ": cluster name"));
    auto [it, fresh] = map.clusters_.emplace(std::string(identity), std::string(cluster));
    if (!fresh && it->second != cluster) {
      return invalid_argument(where + ": identity \"" + it->first + "\" is mapped to cluster \"" +
                              it->second + "\" on an earlier line");
    }
  }
  return map;
}

std::string ClientClusterMap::cluster_of(const std::vector<std::string>& identities) const {
  for (const auto& identity : identities) {
    if (auto it = clusters_.find(identity); it != clusters_.end()) {
      return it->second;
    }
  }
  return "";
}

ClusterDecision decide_cluster(const ClusterClaims& claims) {
  ClusterDecision d;
  if (!claims.token.empty() && !claims.certificate.empty() && claims.token != claims.certificate) {
    d.refused_reason = "the token names cluster \"" + claims.token +
                       "\" but the client certificate names \"" + claims.certificate + "\"";
    return d;
  }
  const std::string& credential = !claims.token.empty() ? claims.token : claims.certificate;
  if (!credential.empty() && !claims.path.empty() && claims.path != credential) {
    d.refused_reason = "the path claims cluster \"" + claims.path +
                       "\" but the credential is for cluster \"" + credential + "\"";
    return d;
  }
  d.cluster = !credential.empty()     ? credential
              : !claims.path.empty() ? claims.path
                                     : std::string(kDefaultCluster);
  return d;
}

}  // namespace ktrail::ingest
