// The entry points of every subcommand, one file each (app/cmd_*.cpp).
#pragma once

#include <string>
#include <vector>

namespace ktrail::app {

using Args = std::vector<std::string>;

int cmd_version(const Args& args);
int cmd_query_audit(const Args& args);
int cmd_sql(const Args& args);
int cmd_serve(const Args& args);
int cmd_ingest(const Args& args);

}  // namespace ktrail::app
