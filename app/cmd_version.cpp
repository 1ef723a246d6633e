// `ktrail version [-o json]` and `ktrail --version`: what this binary is and what it runs on.
#include <librdkafka/rdkafka.h>
#include <sqlite3.h>

#include <cstdio>
#include <string>

#include "app/cli.h"
#include "app/commands.h"
#include "ktrail_commit.h"

namespace ktrail::app {

int cmd_version(const Args& args) {
  std::string output = "text";
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-o" || args[i] == "--output") && i + 1 < args.size()) {
      output = args[++i];
    } else if (args[i].rfind("--output=", 0) == 0 || args[i].rfind("-o", 0) == 0) {
      output = args[i].substr(args[i][1] == 'o' ? 2 : 9);
    } else if (args[i] == "-h" || args[i] == "--help") {
      std::printf("usage: ktrail version [-o text|json]\n");
      return kExitOk;
    } else {
      std::fprintf(stderr, "ktrail: version: unexpected '%s' (usage: ktrail version [-o json])\n",
                   args[i].c_str());
      return kExitUsage;
    }
  }
  if (output == "json") {
    // Every value is a plain token or version string: no escaping needed.
    std::printf(
        "{\"version\":\"%s\",\"commit\":\"%s\",\"buildType\":\"%s\",\"sqlite\":\"%s\","
        "\"librdkafka\":\"%s\"}\n",
        KTRAIL_VERSION, KTRAIL_COMMIT, KTRAIL_BUILD_TYPE, sqlite3_libversion(),
        rd_kafka_version_str());
    return kExitOk;
  }
  if (output != "text") {
    std::fprintf(stderr, "ktrail: version: -o must be text or json\n");
    return kExitUsage;
  }
  std::printf("ktrail %s (commit %s, %s; SQLite %s, librdkafka %s)\n", KTRAIL_VERSION,
              KTRAIL_COMMIT, KTRAIL_BUILD_TYPE, sqlite3_libversion(), rd_kafka_version_str());
  return kExitOk;
}

}  // namespace ktrail::app
