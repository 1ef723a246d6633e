// The command-line flags of the audit processing chain, shared by `ktrail serve` and
// `ktrail ingest`:
//
//   --policy FILE            audit.k8s.io/v1 Policy to apply (default: none, keep as received)
//   --max-event-bytes N      size limit per event, kube-apiserver truncate style (0 = none)
//   --redact-secrets BOOL    replace Secret values by markers (default true;
//                            --redact-secrets=false turns it off)
//
// The flags are bound to an AuditProcessingOptions that the command owns; after parsing,
// build_audit_processors (processors/audit_processors.h) turns it into the chain.
#pragma once

#include <boost/program_options.hpp>

#include "core/status.h"
#include "processors/audit_processors.h"

namespace ktrail::app {

// Declares the flags in `desc`, bound to `options` (which keeps its defaults for absent flags).
void add_processing_flags(boost::program_options::options_description* desc,
                          AuditProcessingOptions* options);

}  // namespace ktrail::app
