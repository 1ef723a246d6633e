// The --cluster option and the CLUSTER column of the query commands (docs/clusters.md).
//
// --cluster NAME keeps only that cluster's items; repeated, any of them. The CLUSTER column
// (JSON key "cluster") comes first, and only when the stores read hold more than one cluster:
// a store of one cluster, nearly every store, reads as it did before clusters.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "app/shards.h"
#include "query/output.h"

namespace ktrail::app {

void add_cluster_option(boost::program_options::options_description* desc,
                        std::vector<std::string>* clusters);

// Whether the CLUSTER column is shown: more than one cluster among `stores`; false on an error
// reading them (the command's own read reports it).
bool show_cluster_column(const std::vector<Store*>& stores);
bool show_cluster_column(ShardSet& shards);

void insert_cluster_column(std::vector<query::Column>* columns);
void insert_cluster_value(std::vector<query::Value>* row, const std::string& cluster);
// Inserts the column into a whole table; `clusters` holds one name per row, in row order.
void insert_cluster_column(query::Table* table, const std::vector<std::string>& clusters);

}  // namespace ktrail::app
