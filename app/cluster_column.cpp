#include "app/cluster_column.h"

#include <set>

namespace ktrail::app {

void add_cluster_option(boost::program_options::options_description* desc,
                        std::vector<std::string>* clusters) {
  desc->add_options()("cluster", boost::program_options::value(clusters)->composing(),
                      "only this cluster; repeat for several (docs/clusters.md)");
}

bool show_cluster_column(const std::vector<Store*>& stores) {
  std::set<std::string> all;
  for (Store* store : stores) {
    auto clusters = store->clusters();
    if (!clusters) {
      return false;
    }
    all.insert(clusters->begin(), clusters->end());
  }
  return all.size() > 1;
}

bool show_cluster_column(ShardSet& shards) { return show_cluster_column(shards.stores()); }

void insert_cluster_column(std::vector<query::Column>* columns) {
  columns->insert(columns->begin(), query::Column{"cluster", "CLUSTER"});
}

void insert_cluster_value(std::vector<query::Value>* row, const std::string& cluster) {
  row->insert(row->begin(), query::Value::string(cluster));
}

void insert_cluster_column(query::Table* table, const std::vector<std::string>& clusters) {
  insert_cluster_column(&table->columns);
  for (std::size_t i = 0; i < table->rows.size() && i < clusters.size(); ++i) {
    insert_cluster_value(&table->rows[i], clusters[i]);
  }
}

}  // namespace ktrail::app
