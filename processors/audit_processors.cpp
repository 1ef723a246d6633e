#include "processors/audit_processors.h"

#include "processors/policy/loader.h"
#include "processors/policy_processor.h"
#include "processors/redact_processor.h"
#include "processors/truncate_processor.h"

namespace ktrail {

Result<std::shared_ptr<const policy::CompiledPolicy>> load_compiled_policy(
    const std::string& path, std::vector<std::string>* warnings) {
  policy::LoadedPolicy loaded = policy::load_policy_file(path);
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
  return std::shared_ptr<const policy::CompiledPolicy>(std::move(*compiled));
}

Result<ProcessorChain> build_audit_processors(const AuditProcessingOptions& options,
                                              std::vector<std::string>* warnings) {
  ProcessorChain chain;
  if (options.policy_source) {
    PolicyProcessorOptions policy_options;
    policy_options.source = options.policy_source;
    policy_options.metrics = options.metrics;
    chain.push_back(std::make_unique<PolicyProcessor>(std::move(policy_options)));
  } else if (!options.policy_file.empty()) {
    auto compiled = load_compiled_policy(options.policy_file, warnings);
    if (!compiled) {
      return compiled.status();
    }
    PolicyProcessorOptions policy_options;
    policy_options.policy = std::move(*compiled);
    policy_options.metrics = options.metrics;
    chain.push_back(std::make_unique<PolicyProcessor>(std::move(policy_options)));
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
