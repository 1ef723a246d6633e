#include <cstdio>

#include "app/cli.h"
#include "app/commands.h"

namespace ktrail::app {

int cmd_version(const Args& /*args*/) {
  std::printf("ktrail %s\n", KTRAIL_VERSION);
  return kExitOk;
}

}  // namespace ktrail::app
