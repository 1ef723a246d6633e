// Cluster identity: the name of the Kubernetes cluster an item came from.
//
// Node names, namespaces and auditIDs repeat across clusters, so every stored audit event,
// Event, incident and finding carries its cluster, and identities and correlation keys include
// it. A batch comes from one source and so from one cluster (Batch::cluster). Items whose source
// names no cluster belong to kDefaultCluster; a store written before clusters existed holds only
// that one.
//
// A cluster name is 1 to 63 characters of [A-Za-z0-9._:-], starting with a letter or digit: it
// appears in URL paths (/audit/{cluster}), file lines (TOKEN,cluster) and table columns, so it
// holds nothing that needs quoting or escaping in any of them.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace ktrail {

inline constexpr std::string_view kDefaultCluster = "default";
inline constexpr std::size_t kMaxClusterNameBytes = 63;

bool valid_cluster_name(std::string_view name);
// Ok for a valid name; otherwise an invalid-argument error that quotes at most the first 63
// bytes of `name`, escaped, after `what` ("cluster name in token file t.txt line 3").
Status check_cluster_name(std::string_view name, std::string_view what);

}  // namespace ktrail
