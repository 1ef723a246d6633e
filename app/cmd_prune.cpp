// `ktrail prune --before T`: removes the sealed segments whose events are all before T
// (whole segments, in chain order; storage/segments.h). Unsealed events are never removed.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>

#include "app/cli.h"
#include "app/command_options.h"
#include "app/commands.h"
#include "core/time.h"
#include "storage/store.h"

namespace ktrail::app {
namespace po = boost::program_options;
int cmd_prune(const Args& args) {
  std::string db = "./ktrail.db";
  std::string before_text;
  po::options_description desc(
      "usage: ktrail prune --before T [options]\n\n"
      "Removes whole sealed segments whose events are all before T (RFC 3339, or a duration back\n"
      "from now). Events not sealed yet stay. Run beside serve: it waits for the writer's lock.\n"
      "\noptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("db", po::value(&db), "store file (default ./ktrail.db)")
    ("before", po::value(&before_text), "remove segments whose events are all before this");
  // clang-format on
  po::variables_map vm;
  if (auto done = parse_command(args, desc, &vm)) {
    return *done;
  }
  if (before_text.empty()) {
    return fail_command(invalid_argument("give --before T"), kExitUsage);
  }
  auto before = parse_time_arg(before_text, SystemClock().now());
  if (!before) {
    return fail_command(before.status(), kExitUsage);
  }
  if (!std::filesystem::exists(db)) {
    return fail_command(not_found("no store at '" + db + "'"), kExitFailure);
  }
  StoreOptions options;
  options.background_checkpoints = false;
  auto store = Store::open(db, options);
  if (!store) {
    return fail_command(store.status(), kExitFailure);
  }
  auto pruned = (*store)->prune_before(*before);
  if (!pruned) {
    return fail_command(pruned.status(), kExitFailure);
  }
  std::printf("removed %lld segments (%lld events) before %s\n",
              static_cast<long long>(pruned->segments), static_cast<long long>(pruned->events),
              format_rfc3339(*before).c_str());
  if (pruned->hot_kept > 0) {
    std::printf("kept %lld events before then that are not sealed yet\n",
                static_cast<long long>(pruned->hot_kept));
  }
  if (pruned->sealed_kept > 0) {
    std::printf("kept %lld sealed events before then: they follow a newer segment in the chain\n",
                static_cast<long long>(pruned->sealed_kept));
  }
  return kExitOk;
}

}  // namespace ktrail::app
