#include "app/detect_stage.h"

#include "processors/redact_processor.h"

namespace po = boost::program_options;

namespace ktrail::app {

void add_detect_flags(po::options_description* desc, std::vector<std::string>* files) {
  desc->add_options()("detect-rules", po::value(files)->composing(),
                      "detection rules (Falco k8s_audit rules YAML); repeat for several, in "
                      "order. 'default' is the built-in set (used when the flag is absent), "
                      "'none' turns detection off (docs/detect.md)");
}

Result<std::shared_ptr<const detect::Engine>> load_detect_engine(
    const std::vector<std::string>& files) {
  bool none = false;
  for (const auto& f : files) {
    none = none || f == "none";
  }
  if (none) {
    if (files.size() > 1) {
      return invalid_argument("--detect-rules none cannot be combined with rules files");
    }
    return std::shared_ptr<const detect::Engine>();
  }
  detect::Diagnostics diags;
  std::shared_ptr<const detect::Engine> engine = detect::Engine::load(files, &diags);
  if (!engine) {
    return invalid_argument("detection rules do not load:\n" + diags.status().message());
  }
  return engine;
}

DetectProcessor::DetectProcessor(std::shared_ptr<const DetectSource> source, bool redact,
                                 MetricsRegistry* metrics)
    : source_(std::move(source)), redact_(redact) {
  findings_ = &metrics->get("ktrail_detect_findings_total", MetricType::kCounter,
                            "Detection rules that matched an audit event");
}

void DetectProcessor::process(Batch& batch, BatchOutcome& /*outcome*/) {
  const std::shared_ptr<const detect::Engine> engine = source_->current();
  if (!engine) {
    return;
  }
  for (const AuditEvent& event : batch.audit) {
    matches_.clear();
    engine->evaluate(event, &matches_);
    if (matches_.empty()) {
      continue;
    }
    const AuditEvent* source = &event;
    AuditEvent redacted;
    bool withheld = false;
    if (redact_ && (event.has_request_object || event.has_response_object)) {
      redacted = event;
      auto r = redact_secrets(&redacted);
      source = &redacted;
      withheld = !r.is_ok();
    }
    for (const auto* rule : matches_) {
      Finding f = engine->make_finding(*rule, *source);
      if (withheld) {
        // The event cannot be read to redact it: keep the finding, not its formatted values.
        f.output = "(output withheld: the event could not be redacted)";
      }
      batch.findings.push_back(std::move(f));
      findings_->add();
    }
  }
}

}  // namespace ktrail::app
