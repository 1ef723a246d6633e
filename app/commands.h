// The entry points of every subcommand, one file each (app/cmd_*.cpp).
#pragma once

#include <string>
#include <vector>

namespace ktrail::app {

using Args = std::vector<std::string>;

int cmd_version(const Args& args);
int cmd_policy_check(const Args& args);
int cmd_policy_lint(const Args& args);
int cmd_query_audit(const Args& args);
int cmd_sql(const Args& args);
int cmd_incidents_list(const Args& args);
int cmd_incidents_show(const Args& args);
int cmd_query_timeline(const Args& args);
int cmd_report_compliance(const Args& args);
int cmd_query_events(const Args& args);
int cmd_serve(const Args& args);
int cmd_ingest(const Args& args);
int cmd_detect(const Args& args);
int cmd_findings_list(const Args& args);
int cmd_findings_show(const Args& args);
int cmd_verify(const Args& args);
int cmd_prune(const Args& args);
int cmd_export(const Args& args);
int cmd_completion(const Args& args);
int cmd_complete(const Args& args);

}  // namespace ktrail::app
