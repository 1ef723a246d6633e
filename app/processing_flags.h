// The command-line flags of the audit processing chain, shared by `ktrail serve` and
// `ktrail ingest`:
//
//   --policy FILE            audit.k8s.io/v1 Policy to apply (default: none, keep as received)
//   --max-event-bytes N      size limit per event, kube-apiserver truncate style (0 = none)
//   --redact-secrets BOOL    replace Secret values by markers (default true;
//                            --redact-secrets=false turns it off)
//
// Usage in a command:
//   po::options_description desc(...);
//   add_processing_flags(&desc);
//   ... parse into vm ...
//   auto chain = build_processing_chain(vm);   // prints policy warnings to stderr
//   if (!chain) { fprintf(stderr, "ktrail: %s\n", chain.status().message().c_str()); return 1; }
#pragma once

#include <boost/program_options.hpp>

#include "core/status.h"
#include "processors/audit_processors.h"

namespace ktrail::app {

void add_processing_flags(boost::program_options::options_description* desc);

// The options the flags in `vm` say (flags absent from `vm` keep their defaults).
AuditProcessingOptions processing_options(const boost::program_options::variables_map& vm);

// processing_options + build_audit_processors; policy warnings go to stderr.
Result<ProcessorChain> build_processing_chain(const boost::program_options::variables_map& vm);

}  // namespace ktrail::app
