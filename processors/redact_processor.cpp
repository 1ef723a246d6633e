#include "processors/redact_processor.h"

#include "core/json.h"

namespace ktrail {

Result<bool> redact_secrets(AuditEvent* event) { return redact_audit_event_text(&event->json); }

RedactProcessor::RedactProcessor(RedactProcessorOptions options) {
  redacted_ = &options.metrics->get("ktrail_redacted_events_total", MetricType::kCounter,
                                    "Audit events whose Secret values were redacted");
  redacted_dead_letters_ = &options.metrics->get(
      "ktrail_redacted_dead_letters_total", MetricType::kCounter,
      "Dead-lettered items whose Secret values were redacted, or whose content was not kept");
  rejected_ = &options.metrics->get("ktrail_processor_rejected_total", MetricType::kCounter,
                                    "Audit events dead-lettered by a processing stage, by stage",
                                    "stage=\"redact\"");
}

void RedactProcessor::process(Batch& batch, BatchOutcome& /*outcome*/) {
  // Dead letters first: the ones this stage adds below are already safe.
  for (auto& item : batch.rejected) {
    if (redact_dead_letter(&item.raw, &item.reason)) {
      redacted_dead_letters_->add();
    }
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < batch.audit.size(); ++i) {
    AuditEvent& e = batch.audit[i];
    auto r = redact_secrets(&e);
    if (!r) {
      // Storing it unredacted is not an option: keep it aside, with its value cut out.
      rapidjson::Document stub(rapidjson::kObjectType);
      stub.AddMember("auditID", rapidjson::StringRef(e.audit_id.data(), e.audit_id.size()),
                     stub.GetAllocator());
      batch.rejected.push_back(
          {"secret redaction failed: " + r.status().message(), json::to_compact(stub)});
      rejected_->add();
      continue;
    }
    if (*r) {
      redacted_->add();
    }
    if (kept != i) {
      batch.audit[kept] = std::move(e);
    }
    ++kept;
  }
  batch.audit.resize(kept);
}

}  // namespace ktrail
