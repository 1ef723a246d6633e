#include "processors/policy_processor.h"

#include <algorithm>

#include "processors/event_json.h"
#include "processors/json_splice.h"

namespace ktrail {

namespace {

bool needs_rewrite(const AuditEvent& e, Level applied, bool omit_managed_fields) {
  if (applied != e.level) {
    return true;
  }
  if (applied <= Level::kMetadata && e.has_request_object) {
    return true;
  }
  if (applied <= Level::kRequest && e.has_response_object) {
    return true;
  }
  return omit_managed_fields && (e.has_request_object || e.has_response_object) &&
         contains(e.json, "\"managedFields\"");
}

}  // namespace

Status apply_level(AuditEvent* event, Level level, bool omit_managed_fields) {
  const Level applied = std::min(level, event->level);
  if (!needs_rewrite(*event, applied, omit_managed_fields)) {
    return Status::ok();
  }
  const bool drop_request = applied <= Level::kMetadata && event->has_request_object;
  const bool drop_response = applied <= Level::kRequest && event->has_response_object;
  const bool strip = omit_managed_fields &&
                     (event->has_request_object || event->has_response_object) &&
                     contains(event->json, "\"managedFields\"");
  if (!strip) {
    // The common case: drop whole members and set the level, without a parse.
    SpliceEdit edit;
    edit.drop_request_object = drop_request;
    edit.drop_response_object = drop_response;
    edit.level = to_string(applied);
    std::string out;
    if (splice_top_level(event->json, edit, &out)) {
      event->json = std::move(out);
      event->has_request_object = event->has_request_object && !drop_request;
      event->has_response_object = event->has_response_object && !drop_response;
      event->level = applied;
      return Status::ok();
    }
  }
  rapidjson::Document doc;
  KTRAIL_RETURN_IF_ERROR(parse_event_json(*event, &doc));
  if (applied <= Level::kMetadata) {
    doc.RemoveMember("requestObject");
  }
  if (applied <= Level::kRequest) {
    doc.RemoveMember("responseObject");
  }
  if (omit_managed_fields) {
    for (const char* key : {"requestObject", "responseObject"}) {
      auto it = doc.FindMember(key);
      if (it != doc.MemberEnd()) {
        remove_managed_fields(&it->value);
      }
    }
  }
  auto lv = doc.FindMember("level");
  const char* name = to_string(applied);
  if (lv != doc.MemberEnd()) {
    lv->value.SetString(rapidjson::StringRef(name));
  } else {
    doc.AddMember("level", rapidjson::StringRef(name), doc.GetAllocator());
  }
  store_event_json(doc, event);
  event->level = applied;
  return Status::ok();
}

PolicyProcessor::PolicyProcessor(PolicyProcessorOptions options)
    : source_(options.source ? std::move(options.source)
                             : std::make_shared<const PolicySource>(std::move(options.policy))) {
  MetricsRegistry& m = *options.metrics;
  const char* help = "Audit events dropped by the audit policy, by reason";
  dropped_level_none_ =
      &m.get("ktrail_policy_dropped_total", MetricType::kCounter, help, "reason=\"level_none\"");
  dropped_omitted_stage_ =
      &m.get("ktrail_policy_dropped_total", MetricType::kCounter, help, "reason=\"omitted_stage\"");
  rewritten_ = &m.get("ktrail_policy_reduced_total", MetricType::kCounter,
                      "Audit events reduced by the audit policy (lower level or no managedFields)");
  rejected_ =
      &m.get("ktrail_processor_rejected_total", MetricType::kCounter,
             "Audit events dead-lettered by a processing stage, by stage", "stage=\"policy\"");
}

PolicyProcessor::Verdict PolicyProcessor::apply(const policy::CompiledPolicy& policy,
                                                AuditEvent* event, std::string* why) {
  std::string path;
  const policy::Decision d = policy.evaluate(policy::attributes_from_event(*event, &path));
  // min(policy, received) = None also covers an event that arrived at level None.
  if (std::min(d.level, event->level) == Level::kNone) {
    dropped_level_none_->add();
    *why = "level None";
    return Verdict::kDrop;
  }
  if (d.omit_stages.contains(event->stage)) {
    dropped_omitted_stage_->add();
    *why = "omitted stage";
    return Verdict::kDrop;
  }
  const Level before = event->level;
  const std::size_t before_bytes = event->json.size();
  Status s = apply_level(event, d.level, d.omit_managed_fields);
  if (!s.is_ok()) {
    *why = "audit policy could not rewrite the event: " + s.message();
    rejected_->add();
    return Verdict::kReject;
  }
  if (event->level != before || event->json.size() != before_bytes) {
    rewritten_->add();
  }
  return Verdict::kKeep;
}

void PolicyProcessor::process(Batch& batch, BatchOutcome& outcome) {
  const auto policy = source_->current();  // one policy for the whole batch
  std::size_t kept = 0;
  for (std::size_t i = 0; i < batch.audit.size(); ++i) {
    AuditEvent& e = batch.audit[i];
    std::string why;
    switch (apply(*policy, &e, &why)) {
      case Verdict::kKeep:
        if (kept != i) {
          batch.audit[kept] = std::move(e);
        }
        ++kept;
        break;
      case Verdict::kDrop:
        ++outcome.dropped_by_policy;
        batch.tallies.push_back({e.stage_time, why == "level None"
                                                   ? "dropped by policy: level None"
                                                   : "dropped by policy: omitted stage"});
        break;
      case Verdict::kReject:
        batch.rejected.push_back({std::move(why), std::move(e.json)});
        break;
    }
  }
  batch.audit.resize(kept);
}

}  // namespace ktrail
