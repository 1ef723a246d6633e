// `ktrail verify [--since T] [--head] [--expect-head HEX]`: recomputes the hash chain of the
// sealed segments (storage/segments.h) and names the first segment that does not match.
#include <boost/program_options.hpp>
#include <cstdio>

#include "app/cli.h"
#include "app/command_options.h"
#include "app/commands.h"
#include "core/time.h"
#include "storage/store.h"

namespace ktrail::app {
namespace po = boost::program_options;
int cmd_verify(const Args& args) {
  std::string db = "./ktrail.db";
  std::string since_text;
  std::string expect_head;
  po::options_description desc(
      "usage: ktrail verify [options]\n\n"
      "Recomputes the SHA-256 chain of the sealed segments. Exit 0 when every segment matches,\n"
      "1 naming the first one that does not (events edited, removed or reordered).\n\noptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("db", po::value(&db), "store file (default ./ktrail.db)")
    ("since", po::value(&since_text),
     "rehash only segments with events at or after this time (RFC 3339 or a duration back from "
     "now); the links of earlier ones are still checked")
    ("head", "print the chain head (hex SHA-256 of the last segment), to record outside the store")
    ("expect-head", po::value(&expect_head),
     "a head recorded earlier: fail unless the chain still holds it");
  // clang-format on
  po::variables_map vm;
  if (auto done = parse_command(args, desc, &vm)) {
    return *done;
  }
  std::optional<Micros> since;
  if (!since_text.empty()) {
    auto t = parse_time_arg(since_text, SystemClock().now());
    if (!t) {
      return fail_command(t.status(), kExitUsage);
    }
    since = *t;
  }
  StoreOptions options;
  options.read_only = true;
  auto store = Store::open(db, options);
  if (!store) {
    return fail_command(store.status(), kExitFailure);
  }
  auto report = (*store)->verify_segments(since);
  if (!report) {
    return fail_command(report.status(), kExitFailure);
  }
  if (vm.count("head") != 0u) {
    std::printf("%s\n", report->head.empty() ? "none" : report->head.c_str());
  }
  if (report->bad_segment) {
    std::printf("segment %lld (%s .. %s) does not match: %s\n",
                static_cast<long long>(*report->bad_segment),
                format_rfc3339(report->bad_range_start).c_str(),
                format_rfc3339(report->bad_range_end).c_str(), report->reason.c_str());
    return kExitFailure;
  }
  if (!expect_head.empty()) {
    bool held = false;
    for (const auto& h : report->hashes) {
      held = held || h == expect_head;
    }
    if (!held) {
      std::printf("the recorded head %s is not in the chain (segments were removed or replaced)\n",
                  expect_head.c_str());
      return kExitFailure;
    }
  }
  if (vm.count("head") == 0u) {
    std::printf("ok: %lld segments, %lld sealed events, head %s\n",
                static_cast<long long>(report->segments), static_cast<long long>(report->events),
                report->head.empty() ? "none" : report->head.c_str());
  }
  return kExitOk;
}

}  // namespace ktrail::app
