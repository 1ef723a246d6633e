#include "app/cli.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "app/commands.h"
#include "app/suggest.h"

namespace ktrail::app {

const char* const kExitCodesHelp =
    "exit codes:\n"
    "  0  success\n"
    "  1  the command failed: an input, the store or the network (the message says which)\n"
    "  2  the command line was wrong: unknown command or option, bad value, empty time window\n"
    "  3  ktrail ingest rejected items and accepted none (with --fail-on-reject: rejected any)\n";

namespace {

// Words are matched exactly against the leading args.
const Command kCommands[] = {
    {"serve", "run the webhook backend (HTTP(S) ingest, queue, processors, store)", cmd_serve},
    {"ingest",
     "replay audit logs or Kubernetes Events (JSON lines, JSON or YAML, .gz, - for stdin)",
     cmd_ingest},
    {"version", "print the version (-o json: with commit, build type, SQLite, librdkafka)",
     cmd_version},
    {"policy check", "evaluate an audit policy against audit events", cmd_policy_check},
    {"policy lint", "check an audit policy file: errors and warnings", cmd_policy_lint},
    {"query audit", "search audit events by user, verb, resource, namespace, name, code, time",
     cmd_query_audit},
    {"sql", "run one read-only SQL statement on the store", cmd_sql},
    {"query timeline", "audit events, Kubernetes Events and incidents merged in time order",
     cmd_query_timeline},
    {"query events", "Kubernetes Events over history by namespace, object, reason, type, time",
     cmd_query_events},
    {"incidents list", "incidents (node-not-ready, restart-storm, node-drain, ...)",
     cmd_incidents_list},
    {"incidents show", "one incident with its member events", cmd_incidents_show},
    {"detect", "run detection rules (Falco k8s_audit rules) over audit events", cmd_detect},
    {"findings list", "findings of the detection rules, stored by serve and ingest",
     cmd_findings_list},
    {"findings show", "one finding", cmd_findings_show},
    {"report compliance", "compliance report: secrets, RBAC, escalation, denials, coverage",
     cmd_report_compliance},
    {"verify", "check the hash chain of the sealed segments (tamper evidence)", cmd_verify},
    {"prune", "remove whole sealed segments before a time (retention)", cmd_prune},
    {"export", "write stored audit events of a time range as JSON lines (.gz), as received",
     cmd_export},
    {"completion", "shell completion: source <(ktrail completion bash), or zsh, or fish",
     cmd_completion},
};

std::vector<std::string> split_words(std::string_view words) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= words.size()) {
    const std::size_t space = std::min(words.find(' ', start), words.size());
    out.emplace_back(words.substr(start, space - start));
    start = space + 1;
  }
  return out;
}

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: ktrail <command> [options]\n\ncommands:\n");
  for (const Command& c : kCommands) {
    std::fprintf(out, "  %-22s %s\n", c.words, c.summary);
  }
  std::fprintf(out,
               "\nRun 'ktrail <command> --help' for the options of a command; "
               "'ktrail --version' for the version.\n\n%s",
               kExitCodesHelp);
}

// No command matched: say which words exist at the level that went wrong, and the nearest.
int unknown_command(const std::vector<std::string>& args) {
  std::vector<std::string> first_words;
  for (const Command& c : kCommands) {
    const std::string first = split_words(c.words)[0];
    if (std::find(first_words.begin(), first_words.end(), first) == first_words.end()) {
      first_words.push_back(first);
    }
  }
  const std::string& word = args[0];
  std::vector<std::string> subs;  // the second words of the commands starting with `word`
  for (const Command& c : kCommands) {
    const auto words = split_words(c.words);
    if (words.size() == 2 && words[0] == word) {
      subs.push_back(words[1]);
    }
  }
  std::string list;
  if (!subs.empty()) {
    for (const auto& s : subs) {
      list += (list.empty() ? "" : ", ") + s;
    }
    const bool given = args.size() > 1 && !args[1].empty() && args[1][0] != '-';
    if (!given) {
      std::fprintf(stderr, "ktrail: '%s' needs a subcommand: %s (e.g. 'ktrail %s %s --help')\n",
                   word.c_str(), list.c_str(), word.c_str(), subs[0].c_str());
      return kExitUsage;
    }
    const std::string near = nearest_word(args[1], subs);
    std::fprintf(stderr, "ktrail: unknown command '%s %s'%s The %s commands are: %s\n",
                 word.c_str(), args[1].c_str(),
                 near.empty() ? "." : ("; did you mean '" + word + " " + near + "'?").c_str(),
                 word.c_str(), list.c_str());
    return kExitUsage;
  }
  for (const auto& w : first_words) {
    list += (list.empty() ? "" : ", ") + w;
  }
  const std::string near = nearest_word(word, first_words);
  std::fprintf(stderr, "ktrail: unknown command '%s'%s\ncommands: %s\nRun 'ktrail --help' for what each does.\n",
               word.c_str(), near.empty() ? "" : ("; did you mean '" + near + "'?").c_str(),
               list.c_str());
  return kExitUsage;
}

}  // namespace

std::vector<std::string> command_list() {
  std::vector<std::string> out;
  for (const Command& c : kCommands) {
    out.emplace_back(c.words);
  }
  return out;
}

int run_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    print_usage(args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "--version") {
    return cmd_version({});
  }
  if (args[0] == "__complete") {  // what the completion scripts ask
    return cmd_complete(Args(args.begin() + 1, args.end()));
  }
  for (const Command& c : kCommands) {
    const auto words = split_words(c.words);
    if (args.size() < words.size() ||
        !std::equal(words.begin(), words.end(), args.begin())) {
      continue;
    }
    return c.run(Args(args.begin() + static_cast<std::ptrdiff_t>(words.size()), args.end()));
  }
  return unknown_command(args);
}

}  // namespace ktrail::app
