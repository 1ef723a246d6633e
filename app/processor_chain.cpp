#include "app/processor_chain.h"

#include <cstdio>

#include "app/correlation_restore.h"
#include "app/detect_stage.h"
#include "processors/carried_events.h"
#include "processors/correlate/processor.h"

namespace ktrail::app {

Result<std::vector<std::unique_ptr<Processor>>> make_processor_chain(const ServeOptions& options) {
  // Detection first, on events as received (app/detect_stage.h); then policy, redaction and
  // truncation (processors/audit_processors.h), then correlation, last, so that it sees events
  // as they will be stored.
  std::shared_ptr<const DetectSource> detect = options.detect_source;
  if (!detect) {
    auto engine = load_detect_engine(options.detect_rules);
    if (!engine) {
      return engine.status();
    }
    if (*engine) {
      detect = std::make_shared<DetectSource>(std::move(*engine));
    }
  }
  std::vector<std::string> warnings;
  auto audit = build_audit_processors(options.processing, &warnings);
  if (!audit) {
    return audit.status();
  }
  for (const auto& w : warnings) {
    std::fprintf(stderr, "ktrail: %s\n", w.c_str());
  }
  std::vector<std::unique_ptr<Processor>> chain;
  if (detect) {
    chain.push_back(std::make_unique<DetectProcessor>(detect, options.processing.redact_secrets));
  }
  for (auto& stage : *audit) {
    chain.push_back(std::move(stage));
  }
  correlate::Rules rules;
  if (!options.rules.empty()) {
    auto loaded = correlate::load_rules_file(options.rules);
    if (!loaded) {
      return loaded.status();
    }
    rules = std::move(*loaded);
  }
  // Events carried in audit events are stored as Events (processors/carried_events.h).
  chain.push_back(std::make_unique<CarriedEventsProcessor>());
  chain.push_back(std::make_unique<correlate::CorrelateProcessor>(std::move(rules)));
  return chain;
}

Status restore_processor_state(std::vector<std::unique_ptr<Processor>>& chain, Store& store,
                               const ServeOptions& options, RestoreSummary* summary) {
  correlate::CorrelateProcessor* correlation = correlate::correlation_stage(chain);
  CarriedEventsProcessor* carried = nullptr;
  for (auto& stage : chain) {
    if (auto* c = dynamic_cast<CarriedEventsProcessor*>(stage.get())) {
      carried = c;
    }
  }
  if (correlation == nullptr && carried == nullptr) {
    return Status::ok();
  }
  correlate::Rules rules;
  if (!options.rules.empty()) {
    auto loaded = correlate::load_rules_file(options.rules);
    if (!loaded) {
      return loaded.status();
    }
    rules = std::move(*loaded);
  }
  const std::vector<Store*> stores = {&store};
  auto input = read_restore_input(stores, restore_horizon(rules));
  if (!input) {
    return input.status();
  }
  if (carried != nullptr) {
    replay_carried_events(*input, RestoreScope{}, *carried);
  }
  if (correlation == nullptr) {
    return Status::ok();
  }
  auto restored = replay_restore_input(*input, RestoreScope{}, stores, *correlation);
  if (!restored) {
    return restored.status();
  }
  if (summary != nullptr) {
    summary->open_incidents += restored->open_incidents;
    summary->replayed += restored->replayed;
    summary->updated += restored->updates.size();
  }
  if (!restored->updates.empty()) {
    Batch batch;
    batch.origin = "correlation restore";
    batch.incidents = std::move(restored->updates);
    auto written = store.write_batch(batch);
    if (!written) {
      return written.status();
    }
  }
  return Status::ok();
}

}  // namespace ktrail::app
