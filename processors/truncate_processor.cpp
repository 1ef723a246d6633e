#include "processors/truncate_processor.h"

#include "processors/event_json.h"

namespace ktrail {
namespace {

constexpr std::string_view kKindField = "\"kind\":\"Event\",";
constexpr std::string_view kApiVersionField = "\"apiVersion\":\"audit.k8s.io/v1\",";

}  // namespace

std::size_t serialized_event_size(const AuditEvent& event) {
  std::size_t size = event.json.size() + 1;  // the newline
  // Items of an EventList carry no kind/apiVersion; alone, an event does.
  if (!contains(event.json, "\"kind\":\"Event\"")) {
    size += kKindField.size();
  }
  if (!contains(event.json, "\"apiVersion\":\"audit.k8s.io/")) {
    size += kApiVersionField.size();
  }
  return size;
}

TruncateProcessor::TruncateProcessor(TruncateProcessorOptions options)
    : max_(options.max_event_bytes) {
  truncated_ = &options.metrics->get(
      "ktrail_truncated_events_total", MetricType::kCounter,
      "Audit events whose request/response objects were removed to fit --max-event-bytes");
  rejected_ = &options.metrics->get("ktrail_processor_rejected_total", MetricType::kCounter,
                                    "Audit events dead-lettered by a processing stage, by stage",
                                    "stage=\"truncate\"");
}

void TruncateProcessor::process(Batch& batch, BatchOutcome& outcome) {
  // Fast path: an event smaller than the limit even with type meta added is never measured.
  const std::size_t slack = kKindField.size() + kApiVersionField.size() + 1;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < batch.audit.size(); ++i) {
    AuditEvent& e = batch.audit[i];
    bool keep = true;
    if (e.json.size() + slack > max_) {
      std::size_t size = serialized_event_size(e);
      if (size > max_ && e.level >= Level::kRequest &&
          (e.has_request_object || e.has_response_object)) {
        rapidjson::Document doc;
        Status s = parse_event_json(e, &doc);
        if (s.is_ok()) {
          doc.RemoveMember("requestObject");
          doc.RemoveMember("responseObject");
          auto& alloc = doc.GetAllocator();
          auto ann = doc.FindMember("annotations");
          if (ann == doc.MemberEnd() || !ann->value.IsObject()) {
            doc.RemoveMember("annotations");
            doc.AddMember("annotations", rapidjson::Value(rapidjson::kObjectType), alloc);
            ann = doc.FindMember("annotations");
          }
          ann->value.RemoveMember("audit.k8s.io/truncated");
          ann->value.AddMember("audit.k8s.io/truncated", "true", alloc);
          store_event_json(doc, &e);
          size = serialized_event_size(e);
          if (size <= max_) {
            ++outcome.truncated;
            truncated_->add();
            batch.tallies.push_back({e.stage_time, "truncated"});
          }
        }
      }
      if (size > max_) {
        batch.rejected.push_back(
            {"audit event of " + std::to_string(size) +
                 " bytes exceeds --max-event-bytes=" + std::to_string(max_) +
                 (e.has_request_object || e.has_response_object
                      ? std::string()
                      : std::string(" even without request and response objects")),
             std::move(e.json)});
        rejected_->add();
        keep = false;
      }
    }
    if (keep) {
      if (kept != i) {
        batch.audit[kept] = std::move(e);
      }
      ++kept;
    }
  }
  batch.audit.resize(kept);
}

}  // namespace ktrail
