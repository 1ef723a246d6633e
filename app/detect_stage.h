// Detection in the processing chain of `serve` and `ingest`: the first stage, so that rules see
// each audit event as received, before a policy lowers its level or drops it. Matches become
// findings on the batch (core/finding.h), stored with it. A finding's output is formatted from
// the event after the same Secret redaction as stored events (processors/redact_processor.h)
// when redaction is on, so that no secret value reaches the findings table.
//
//   --detect-rules FILE   Falco k8s_audit rules; repeatable, in order. "default" is the built-in
//                         set (the default when the flag is absent); "none" turns detection off.
#pragma once

#include <atomic>
#include <boost/program_options.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "detect/engine.h"
#include "processors/processor.h"

namespace ktrail::app {

void add_detect_flags(boost::program_options::options_description* desc,
                      std::vector<std::string>* files);

// The engine the flags ask for; nullptr (and ok) when detection is off. A rules file with
// errors is kInvalidArgument listing them with file:line:column.
Result<std::shared_ptr<const detect::Engine>> load_detect_engine(
    const std::vector<std::string>& files);

// The rules in force, shared by every chain (one per Kafka partition) and replaced whole on
// SIGHUP; a chain takes the current engine once per batch.
class DetectSource {
 public:
  explicit DetectSource(std::shared_ptr<const detect::Engine> engine) : engine_(std::move(engine)) {}
  std::shared_ptr<const detect::Engine> current() const { return engine_.load(); }
  void replace(std::shared_ptr<const detect::Engine> engine) { engine_.store(std::move(engine)); }

 private:
  std::atomic<std::shared_ptr<const detect::Engine>> engine_;
};

class DetectProcessor : public Processor {
 public:
  DetectProcessor(std::shared_ptr<const DetectSource> source, bool redact,
                  MetricsRegistry* metrics = &MetricsRegistry::global());
  void process(Batch& batch, BatchOutcome& outcome) override;

 private:
  std::shared_ptr<const DetectSource> source_;
  bool redact_;
  Metric* findings_;
  std::vector<const detect::CompiledRule*> matches_;
};

}  // namespace ktrail::app
