// Writes generated audit events (bench/generator.h) as JSON lines, so that ktrail and the peer
// engines of bench/peers_bench.sh load exactly the same bytes.
//
// Usage: gen_audit --events N --out FILE [--seed S] [--spacing-us U] [--duplicates R]
//   --spacing-us: mean gap between stageTimestamps (default 10,000: 100 events/s, so 10 M
//   events span about 11.6 days and per-day aggregations have several days to group).
//   --duplicates: share of exact repeats (default 0: every line is one stored event).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/generator.h"

int main(int argc, char** argv) {
  std::size_t events = 1000000;
  std::string out;
  ktrail::bench::GeneratorOptions options;
  options.mean_spacing = 10000;
  options.duplicate_rate = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--events") {
      events = std::strtoull(value, nullptr, 10);
    } else if (flag == "--out") {
      out = value;
    } else if (flag == "--seed") {
      options.seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--spacing-us") {
      options.mean_spacing = std::strtoll(value, nullptr, 10);
    } else if (flag == "--duplicates") {
      options.duplicate_rate = std::strtod(value, nullptr);
    } else {
      std::fprintf(stderr, "gen_audit: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (out.empty() || events == 0 || options.mean_spacing <= 0) {
    std::fprintf(stderr, "usage: gen_audit --events N --out FILE [--seed S] [--spacing-us U]\n");
    return 2;
  }
  std::FILE* f = std::fopen(out.c_str(), "wb");
  if (f == nullptr) {
    std::fprintf(stderr, "gen_audit: cannot write %s: %s\n", out.c_str(), std::strerror(errno));
    return 1;
  }
  ktrail::bench::AuditGenerator gen(options);
  for (std::size_t i = 0; i < events; ++i) {
    std::string line = gen.next_line();
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), f) != line.size()) {
      std::fprintf(stderr, "gen_audit: write failed: %s\n", std::strerror(errno));
      std::fclose(f);
      return 1;
    }
  }
  if (std::fclose(f) != 0) {
    std::fprintf(stderr, "gen_audit: close failed: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}
