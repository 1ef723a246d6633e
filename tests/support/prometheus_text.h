// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it
// refuses what a lenient scraper lets pass. Each metric family must be one block: `# HELP` and
// `# TYPE` at most once each and before its samples, every sample of the family (with the
// _bucket/_sum/_count suffixes of a histogram) contiguous, names and labels well formed, values
// numbers; a histogram's buckets are cumulative, end with le="+Inf", and +Inf equals _count.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ktrail::testing {

struct PromSample {
  std::string name;    // the sample's own name, e.g. ktrail_x_bucket
  std::string labels;  // inside of the braces, as written
  double value = 0;
};

struct PromFamily {
  std::string name, help, type;
  std::vector<PromSample> samples;
};

// Parses `text`; on any violation returns false and says which line and why in `error`.
bool parse_prometheus_strict(const std::string& text, std::map<std::string, PromFamily>* families,
                             std::string* error);

}  // namespace ktrail::testing
