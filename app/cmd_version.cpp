#include <cstdio>

#include "app/commands.h"
#include "app/cli.h"

namespace ktrail::app {

int cmd_version(const Args& /*args*/) {
  std::printf("ktrail %s\n", KTRAIL_VERSION);
  return kExitOk;
}

}  // namespace ktrail::app
