#include "app/cli.h"

#include <cstdio>
#include <string_view>

#include "app/commands.h"

namespace ktrail::app {
namespace {

// Longest words first is not needed: words are matched exactly against the leading args.
const Command kCommands[] = {
    {"serve", "run the webhook backend (HTTP(S) ingest, queue, processors, store)", cmd_serve},
    {"ingest", "replay audit log files (JSON lines or EventList JSON, .gz, - for stdin)",
     cmd_ingest},
    {"version", "print the version", cmd_version},
    {"policy check", "evaluate an audit policy against audit events", cmd_policy_check},
    {"policy lint", "check an audit policy file: errors and warnings", cmd_policy_lint},
    {"query audit", "search audit events by user, verb, resource, namespace, name, code, time",
     cmd_query_audit},
    {"sql", "run one read-only SQL statement on the store", cmd_sql},
    {"query timeline", "audit events, Kubernetes Events and incidents merged in time order",
     cmd_query_timeline},
    {"incidents list", "incidents (node-not-ready, restart-storm, node-drain, ...)",
     cmd_incidents_list},
    {"incidents show", "one incident with its member events", cmd_incidents_show},
    {"detect", "run detection rules (Falco k8s_audit rules) over audit events", cmd_detect},
    {"findings list", "findings of the detection rules, stored by serve and ingest",
     cmd_findings_list},
    {"findings show", "one finding", cmd_findings_show},
    {"report compliance", "compliance report: secrets, RBAC, escalation, denials, coverage",
     cmd_report_compliance},
};

std::size_t word_count(std::string_view words) {
  std::size_t n = 1;
  for (char c : words) {
    n += c == ' ' ? 1 : 0;
  }
  return n;
}

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: ktrail <command> [options]\n\ncommands:\n");
  for (const Command& c : kCommands) {
    std::fprintf(out, "  %-22s %s\n", c.words, c.summary);
  }
  std::fprintf(out, "\nRun 'ktrail <command> --help' for the options of a command.\n");
}

}  // namespace

int run_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    print_usage(args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  for (const Command& c : kCommands) {
    const std::size_t n = word_count(c.words);
    if (args.size() < n) {
      continue;
    }
    std::string joined;
    for (std::size_t i = 0; i < n; ++i) {
      joined += (i ? " " : "") + args[i];
    }
    if (joined == c.words) {
      return c.run(Args(args.begin() + static_cast<std::ptrdiff_t>(n), args.end()));
    }
  }
  std::fprintf(stderr, "ktrail: unknown command '%s'\n\n", args[0].c_str());
  print_usage(stderr);
  return kExitUsage;
}

}  // namespace ktrail::app
