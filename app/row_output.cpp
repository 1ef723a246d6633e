#include "app/row_output.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/cluster_column.h"

namespace ktrail::app {

RowOutput::RowOutput(query::OutputFormat format, std::vector<query::Column> columns,
                     bool cluster_column, query::RowWriterOptions options)
    : cluster_column_(cluster_column) {
  if (cluster_column_) {
    insert_cluster_column(&columns);
  }
  writer_ = query::RowWriter::make(format, std::move(columns), std::cout, std::move(options));
}

Status RowOutput::add(const std::vector<query::Value>& row, const std::string& cluster) {
  if (cluster_column_) {
    with_cluster_.resize(row.size() + 1);
    with_cluster_[0].reset(query::Value::Kind::kString).assign(cluster);
    std::copy(row.begin(), row.end(), with_cluster_.begin() + 1);
    writer_->add(with_cluster_);
  } else {
    writer_->add(row);
  }
  return std::cout ? Status::ok() : io_error("cannot write the output");
}

int RowOutput::finish(const Status& read) {
  if (!read.is_ok()) {
    writer_->flush();
    std::fprintf(stderr, "ktrail: %s\n", read.message().c_str());
    return kExitFailure;
  }
  writer_->finish();
  return kExitOk;
}

}  // namespace ktrail::app
