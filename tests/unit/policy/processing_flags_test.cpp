// The --policy / --max-event-bytes / --redact-secrets flags as serve and ingest parse them.
#include "app/processing_flags.h"

#include <gtest/gtest.h>

namespace ktrail::app {
namespace {

namespace po = boost::program_options;

AuditProcessingOptions parse(std::vector<std::string> args) {
  AuditProcessingOptions options;
  po::options_description desc;
  add_processing_flags(&desc, &options);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  po::notify(vm);
  return options;
}

TEST(ProcessingFlags, DefaultsAndValues) {
  AuditProcessingOptions d = parse({});
  EXPECT_TRUE(d.policy_file.empty());
  EXPECT_EQ(d.max_event_bytes, 0u);
  EXPECT_TRUE(d.redact_secrets);

  AuditProcessingOptions o =
      parse({"--policy", "p.yaml", "--max-event-bytes=102400", "--redact-secrets=false"});
  EXPECT_EQ(o.policy_file, "p.yaml");
  EXPECT_EQ(o.max_event_bytes, 102400u);
  EXPECT_FALSE(o.redact_secrets);
  EXPECT_TRUE(parse({"--redact-secrets"}).redact_secrets);
}

TEST(ProcessingFlags, BadValuesAreUsageErrors) {
  EXPECT_THROW(parse({"--max-event-bytes=lots"}), po::error);
  EXPECT_THROW(parse({"--redact-secrets=perhaps"}), po::error);
}

TEST(ProcessingFlags, ChainFromFlags) {
  const std::string policy =
      std::string(KTRAIL_SOURCE_DIR) + "/examples/policies/gce-audit-policy.yaml";
  auto chain = build_audit_processors(parse({"--policy", policy, "--max-event-bytes", "1000"}));
  ASSERT_TRUE(chain.is_ok()) << chain.status().to_string();
  EXPECT_EQ(chain->size(), 3u);
  auto none = build_audit_processors(parse({"--redact-secrets=false"}));
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(build_audit_processors(parse({"--policy", "/nonexistent.yaml"})).is_ok());
}

}  // namespace
}  // namespace ktrail::app
