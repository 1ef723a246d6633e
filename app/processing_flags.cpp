#include "app/processing_flags.h"

#include <cstdio>
#include <string>

namespace po = boost::program_options;

namespace ktrail::app {

void add_processing_flags(po::options_description* desc) {
  desc->add_options()("policy", po::value<std::string>(),
                      "audit policy file (audit.k8s.io/v1 Policy, YAML or JSON) to apply to "
                      "audit events; default: keep events as received")(
      "max-event-bytes", po::value<std::size_t>()->default_value(0),
      "largest audit event to store, in bytes: larger events lose their request and response "
      "objects, and are dead-lettered if still too large (0 = no limit)")(
      "redact-secrets", po::value<bool>()->default_value(true)->implicit_value(true),
      "replace the values of Secret objects in stored events by markers (true|false)");
}

AuditProcessingOptions processing_options(const po::variables_map& vm) {
  AuditProcessingOptions opts;
  if (vm.count("policy")) {
    opts.policy_file = vm["policy"].as<std::string>();
  }
  if (vm.count("max-event-bytes")) {
    opts.max_event_bytes = vm["max-event-bytes"].as<std::size_t>();
  }
  if (vm.count("redact-secrets")) {
    opts.redact_secrets = vm["redact-secrets"].as<bool>();
  }
  return opts;
}

Result<ProcessorChain> build_processing_chain(const po::variables_map& vm) {
  std::vector<std::string> warnings;
  auto chain = build_audit_processors(processing_options(vm), &warnings);
  for (const auto& w : warnings) {
    std::fprintf(stderr, "ktrail: %s\n", w.c_str());
  }
  return chain;
}

}  // namespace ktrail::app
