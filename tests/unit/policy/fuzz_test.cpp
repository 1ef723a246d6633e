// Mutated policy files and events: whatever the bytes, the loader and the processors return
// (a policy, errors, or dead-lettered events) and never crash. Deterministic seeds, so a
// failure replays.
#include <gtest/gtest.h>

#include <random>

#include "core/audit_json.h"
#include "processors/audit_processors.h"
#include "processors/policy/loader.h"
#include "processors/policy_processor.h"
#include "processors/redact_processor.h"
#include "processors/truncate_processor.h"
#include "tests/unit/policy/vectors.h"

namespace ktrail::policy {
namespace {

using namespace ktrail::policy::testing;

std::string mutate(std::mt19937& rng, std::string s) {
  static const std::string kBytes = "[]{}:,-*&!|>'\"#\n\t ?%@`\\0aZ";
  const int edits = std::uniform_int_distribution<int>(1, 8)(rng);
  for (int i = 0; i < edits && !s.empty(); ++i) {
    const std::size_t at = std::uniform_int_distribution<std::size_t>(0, s.size() - 1)(rng);
    switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
      case 0:
        s[at] = kBytes[std::uniform_int_distribution<std::size_t>(0, kBytes.size() - 1)(rng)];
        break;
      case 1:
        s.erase(at, std::uniform_int_distribution<std::size_t>(1, 16)(rng));
        break;
      case 2:
        s.insert(at, 1,
                 kBytes[std::uniform_int_distribution<std::size_t>(0, kBytes.size() - 1)(rng)]);
        break;
      default:
        s.insert(at, s.substr(at, std::uniform_int_distribution<std::size_t>(1, 40)(rng)));
        break;
    }
  }
  return s;
}

TEST(PolicyFuzz, MutatedPolicyFilesNeverCrash) {
  std::mt19937 rng(7);
  std::size_t loaded = 0, refused = 0;
  for (const char* name : {"gce-audit-policy.yaml", "kubernetes-io-example.yaml"}) {
    const std::string base =
        read_file(std::string(KTRAIL_SOURCE_DIR) + "/examples/policies/" + name);
    ASSERT_FALSE(base.empty());
    for (int i = 0; i < 1500; ++i) {
      const std::string text = mutate(rng, base);
      LoadedPolicy p = parse_policy(text, "fuzz.yaml");
      if (p.ok()) {
        ++loaded;
        auto c = CompiledPolicy::compile(p.policy);
        ASSERT_TRUE(c.is_ok()) << "a policy that loads must compile:\n" << text;
      } else {
        ++refused;
        ASSERT_FALSE(p.status().message().empty());
      }
    }
  }
  // Both outcomes occur, or the mutations test nothing.
  EXPECT_GT(loaded, 0u);
  EXPECT_GT(refused, 0u);
}

TEST(PolicyFuzz, MutatedEventsThroughTheChainAreAccountedFor) {
  MetricsRegistry metrics;
  AuditProcessingOptions opts;
  opts.policy_file =
      std::string(KTRAIL_SOURCE_DIR) + "/examples/policies/kubernetes-io-example.yaml";
  opts.max_event_bytes = 1500;
  opts.metrics = &metrics;
  auto chain = build_audit_processors(opts);
  ASSERT_TRUE(chain.is_ok());
  const std::string base = read_file(data_path("falco-k8s-audit-trace-files.jsonl"));
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < base.size();) {
    std::size_t end = base.find('\n', start);
    end = end == std::string::npos ? base.size() : end;
    lines.push_back(base.substr(start, end - start));
    start = end + 1;
  }
  std::mt19937 rng(11);
  std::size_t decoded_events = 0;
  for (int round = 0; round < 400; ++round) {
    DecodedAudit decoded;
    for (int k = 0; k < 8; ++k) {
      const std::string& line =
          lines[std::uniform_int_distribution<std::size_t>(0, lines.size() - 1)(rng)];
      decode_audit_line(k % 2 ? mutate(rng, line) : line, &decoded);
    }
    Batch batch;
    batch.audit = std::move(decoded.events);
    const std::size_t in = batch.audit.size();
    decoded_events += in;
    BatchOutcome outcome;
    run_processors(*chain, batch, outcome);
    ASSERT_EQ(batch.audit.size() + outcome.dropped_by_policy + batch.rejected.size(), in);
    for (const auto& e : batch.audit) {
      rapidjson::Document d;
      ASSERT_TRUE(json::parse(e.json, &d).is_ok()) << e.json;
      ASSERT_LE(serialized_event_size(e), opts.max_event_bytes);
    }
  }
  EXPECT_GT(decoded_events, 1000u);
}

}  // namespace
}  // namespace ktrail::policy
