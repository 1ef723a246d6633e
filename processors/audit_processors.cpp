#include "processors/audit_processors.h"

#include "processors/policy/loader.h"
#include "processors/policy_processor.h"
#include "processors/redact_processor.h"
#include "processors/truncate_processor.h"

namespace ktrail {

Result<ProcessorChain> build_audit_processors(const AuditProcessingOptions& options,
                                              std::vector<std::string>* warnings) {
  ProcessorChain chain;
  if (!options.policy_file.empty()) {
    policy::LoadedPolicy loaded = policy::load_policy_file(options.policy_file);
    if (warnings != nullptr) {
      for (const auto& d : loaded.diagnostics) {
        if (d.severity == policy::Severity::kWarning) {
          warnings->push_back(d.to_string());
        }
      }
    }
    KTRAIL_RETURN_IF_ERROR(loaded.status());
    auto compiled = policy::CompiledPolicy::compile(loaded.policy);
    if (!compiled) {
      return compiled.status();
    }
    chain.push_back(std::make_unique<PolicyProcessor>(
        PolicyProcessorOptions{std::move(*compiled), options.metrics}));
  }
  if (options.redact_secrets) {
    chain.push_back(std::make_unique<RedactProcessor>(RedactProcessorOptions{options.metrics}));
  }
  if (options.max_event_bytes > 0) {
    chain.push_back(std::make_unique<TruncateProcessor>(
        TruncateProcessorOptions{options.max_event_bytes, options.metrics}));
  }
  return chain;
}

void run_processors(const ProcessorChain& chain, Batch& batch, BatchOutcome& outcome) {
  for (const auto& stage : chain) {
    stage->process(batch, outcome);
  }
}

}  // namespace ktrail
