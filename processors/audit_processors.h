// The audit processing chain, built from the command-line options of `ktrail serve` and
// `ktrail ingest`, in the order the stages must run:
//
//   1. policy   (--policy FILE)          level None / omitted stages dropped, levels lowered
//   2. redact   (--redact-secrets=true)  Secret values replaced by markers
//   3. truncate (--max-event-bytes N>0)  oversized events reduced or dead-lettered
//
// Redaction runs before truncation so that the size limit holds for what is stored.
// Commands get the flags and the chain from app/processing_flags.h. Direct usage:
//
//   AuditProcessingOptions opts;
//   opts.policy_file = vm["policy"].as<std::string>();   // "" = no policy
//   opts.max_event_bytes = vm["max-event-bytes"].as<std::size_t>();  // 0 = no limit
//   opts.redact_secrets = vm["redact-secrets"].as<bool>();
//   auto chain = build_audit_processors(opts);
//   if (!chain) { report chain.status(); exit 1; }       // names the file, line and rule
//   ... for each batch: run_processors(*chain, batch, outcome);
//
// The stages count what they drop (BatchOutcome::dropped_by_policy) and reduce
// (BatchOutcome::truncated). What they dead-letter is moved to batch.rejected with its reason,
// like the items ingest could not decode: the store writes every batch.rejected item to the
// dead-letter table and counts it in BatchOutcome::rejected then, so the stages do not count
// it a second time (they count it in ktrail_processor_rejected_total{stage=...}).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "processors/policy_processor.h"
#include "processors/processor.h"

namespace ktrail {

struct AuditProcessingOptions {
  std::string policy_file;          // empty: no policy, every event is kept as received
  std::size_t max_event_bytes = 0;  // 0: no size limit
  bool redact_secrets = true;
  MetricsRegistry* metrics = &MetricsRegistry::global();
  // The policy in force, when the caller replaces it while running (SIGHUP); when set, the
  // chain uses it instead of loading policy_file.
  std::shared_ptr<PolicySource> policy_source;
};

using ProcessorChain = std::vector<std::unique_ptr<Processor>>;

// Builds the chain. Fails (with every policy error) if the policy file cannot be loaded.
// Policy warnings (unknown or duplicate fields) are appended to `warnings` if given.
Result<ProcessorChain> build_audit_processors(const AuditProcessingOptions& options,
                                              std::vector<std::string>* warnings = nullptr);

// Loads and compiles a policy file. Fails with every error (file, line, rule); warnings
// (unknown or duplicate fields) are appended to `warnings` if given.
Result<std::shared_ptr<const policy::CompiledPolicy>> load_compiled_policy(
    const std::string& path, std::vector<std::string>* warnings = nullptr);

// Runs every stage of `chain` over `batch`, in order.
void run_processors(const ProcessorChain& chain, Batch& batch, BatchOutcome& outcome);

}  // namespace ktrail
