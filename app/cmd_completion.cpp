// `ktrail completion bash|zsh|fish`: a shell completion script. The script asks the binary
// itself what fits (`ktrail __complete WORDS... -- CURRENT`, one candidate per line), so the
// candidates are always this binary's: commands, subcommands, options (read from the command's
// own --help), -o values and kinds, and incident IDs, users and namespaces from the store named
// by --db (./ktrail.db when none is given).
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <regex>
#include <set>
#include <string>

#include "app/cli.h"
#include "app/commands.h"
#include "app/shards.h"

namespace ktrail::app {
namespace {

constexpr const char* kBash = R"(# ktrail completion for bash: source <(ktrail completion bash)
_ktrail() {
  local IFS=$'\n'
  local cur="${COMP_WORDS[COMP_CWORD]}"
  COMPREPLY=($("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" -- "$cur" 2>/dev/null))
}
complete -o default -F _ktrail ktrail
)";

constexpr const char* kZsh = R"(#compdef ktrail
# ktrail completion for zsh: source <(ktrail completion zsh)
_ktrail() {
  local -a candidates
  candidates=("${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT-1]}" -- "${words[CURRENT]}" 2>/dev/null)}")
  compadd -a candidates
}
compdef _ktrail ktrail
)";

constexpr const char* kFish = R"(# ktrail completion for fish: ktrail completion fish | source
function __ktrail_complete
    set -l tokens (commandline -opc)
    $tokens[1] __complete $tokens[2..-1] -- (commandline -ct) 2>/dev/null
end
complete -c ktrail -f -a '(__ktrail_complete)'
)";

std::vector<std::string> output_values(const std::string& command) {
  if (command == "ingest") {
    return {"text", "json"};
  }
  if (command == "report compliance") {
    return {"table", "json", "csv", "md", "html"};
  }
  if (command == "version") {
    return {"text", "json"};
  }
  if (command == "sql") {  // its rows have no kind/id names
    return {"table", "wide", "json", "jsonl", "yaml", "csv", "jsonpath="};
  }
  return {"table", "wide", "json", "jsonl", "yaml", "csv", "name", "jsonpath="};
}

// The long options a command's --help lists.
std::vector<std::string> options_of(const std::string& command) {
  // This binary, by its path (/proc/self/exe in the shell popen starts would be the shell).
  std::array<char, 4096> self{};
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n <= 0) {
    return {};
  }
  std::string cmd = "'" + std::string(self.data(), static_cast<std::size_t>(n)) + "' " + command +
                    " --help 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::set<std::string> found;
  if (pipe) {
    std::array<char, 4096> buf{};
    std::string text;
    while (std::fgets(buf.data(), buf.size(), pipe.get()) != nullptr) {
      text += buf.data();
    }
    static const std::regex option(R"((^|[\s,\[])(--[a-z][a-z0-9-]*))");
    for (std::sregex_iterator it(text.begin(), text.end(), option), end; it != end; ++it) {
      found.insert((*it)[2]);
    }
  }
  return {found.begin(), found.end()};
}

// Incident IDs, actors and namespaces of the stores named by --db among `words`.
struct StoreValues {
  std::vector<std::string> ids, users, namespaces;
};
StoreValues store_values(const std::vector<std::string>& words) {
  std::vector<std::string> dbs;
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "--db") {
      dbs.push_back(words[i + 1]);
    } else if (words[i].rfind("--db=", 0) == 0) {
      dbs.push_back(words[i].substr(5));
    }
  }
  StoreValues v;
  auto paths = expand_db_paths(dbs.empty() ? std::vector<std::string>{"./ktrail.db"} : dbs);
  if (!paths) {
    return v;
  }
  StoreOptions options;
  options.read_only = true;
  options.cache_mib = 4;
  auto shards = ShardSet::open(*paths, options);
  if (!shards) {
    return v;
  }
  IncidentFilter filter;
  filter.limit = 2000;  // the most recent
  auto incidents = shards->find_incidents(filter);
  if (!incidents) {
    return v;
  }
  std::set<std::string> users, namespaces;
  for (const Incident& i : *incidents) {
    v.ids.push_back(i.id);
    if (!i.actor.empty()) {
      users.insert(i.actor);
    }
    if (!i.namespace_.empty()) {
      namespaces.insert(i.namespace_);
    }
  }
  v.users.assign(users.begin(), users.end());
  v.namespaces.assign(namespaces.begin(), namespaces.end());
  return v;
}

}  // namespace

int cmd_completion(const Args& args) {
  const std::string shell = args.empty() ? "" : args[0];
  if (args.size() != 1 || (shell != "bash" && shell != "zsh" && shell != "fish")) {
    std::fprintf(stderr,
                 "usage: ktrail completion bash|zsh|fish\n"
                 "  bash: source <(ktrail completion bash)\n"
                 "  zsh:  source <(ktrail completion zsh)\n"
                 "  fish: ktrail completion fish | source\n");
    return args.size() == 1 && (shell == "-h" || shell == "--help") ? kExitOk : kExitUsage;
  }
  std::fputs(shell == "bash" ? kBash : shell == "zsh" ? kZsh : kFish, stdout);
  return kExitOk;
}

int cmd_complete(const Args& args) {
  // WORDS... -- CURRENT
  std::vector<std::string> words;
  std::string current;
  const auto dashes = std::find(args.begin(), args.end(), "--");
  words.assign(args.begin(), dashes);
  if (dashes != args.end() && dashes + 1 != args.end()) {
    current = *(dashes + 1);
  }
  std::vector<std::string> candidates;
  const std::vector<std::string> all = command_list();
  // The command given so far: the longest command whose words lead `words`.
  std::string command;
  for (const std::string& c : all) {
    std::vector<std::string> cw;
    for (std::size_t start = 0; start <= c.size();) {
      const std::size_t space = std::min(c.find(' ', start), c.size());
      cw.push_back(c.substr(start, space - start));
      start = space + 1;
    }
    if (words.size() >= cw.size() && std::equal(cw.begin(), cw.end(), words.begin()) &&
        c.size() > command.size()) {
      command = c;
    }
  }
  const std::string previous = words.empty() ? "" : words.back();
  if (command.empty()) {
    std::set<std::string> next;
    for (const std::string& c : all) {
      const auto space = c.find(' ');
      if (words.empty()) {
        next.insert(c.substr(0, space));
      } else if (words.size() == 1 && space != std::string::npos && c.substr(0, space) == words[0]) {
        next.insert(c.substr(space + 1));
      }
    }
    candidates.assign(next.begin(), next.end());
  } else if (previous == "-o" || previous == "--output") {
    candidates = output_values(command);
  } else if (previous == "--kind" && command == "ingest") {
    candidates = {"auto", "audit", "events"};
  } else if (previous == "--kind") {
    candidates = {"node-not-ready", "restart-storm", "node-drain", "image-pull-failure",
                  "scheduling-failure"};
  } else if (previous == "--user" || previous == "--authenticated-user") {
    candidates = store_values(words).users;
  } else if (previous == "--namespace" || previous == "-n") {
    candidates = store_values(words).namespaces;
  } else if (previous == "--db") {
    return kExitOk;  // files: the shell's own completion
  } else if (current.rfind("-", 0) == 0) {
    candidates = options_of(command);
  } else if (command == "incidents show") {
    candidates = store_values(words).ids;
  }
  for (const std::string& c : candidates) {
    if (c.compare(0, current.size(), current) == 0) {
      std::printf("%s\n", c.c_str());
    }
  }
  return kExitOk;
}

}  // namespace ktrail::app
