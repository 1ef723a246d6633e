#include "app/processing_flags.h"

#include <string>

namespace po = boost::program_options;

namespace ktrail::app {

void add_processing_flags(po::options_description* desc, AuditProcessingOptions* options) {
  desc->add_options()("policy", po::value(&options->policy_file),
                      "audit policy file (audit.k8s.io/v1 Policy, YAML or JSON) to apply to "
                      "audit events; default: keep events as received")(
      "max-event-bytes",
      po::value(&options->max_event_bytes)->default_value(options->max_event_bytes),
      "largest audit event to store, in bytes: larger events lose their request and response "
      "objects, and are dead-lettered if still too large (0 = no limit)")(
      "redact-secrets",
      po::value(&options->redact_secrets)
          ->default_value(options->redact_secrets)
          ->implicit_value(true),
      "replace the values of Secret objects in stored events by markers (true|false)");
}

}  // namespace ktrail::app
