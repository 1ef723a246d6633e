// A processing stage: runs on the pipeline thread, over each batch, before the batch is
// stored. Stages are CPU-only (no I/O, no clock): given the same batches in the same order
// they produce the same result, which is what makes replays and live ingest agree.
//
// A stage may rewrite, drop or dead-letter items of the batch, and must count every item it
// drops or dead-letters in `outcome`, so nothing disappears silently.
#pragma once

#include "core/batch.h"

namespace ktrail {

class Processor {
 public:
  virtual ~Processor() = default;
  virtual void process(Batch& batch, BatchOutcome& outcome) = 0;
};

}  // namespace ktrail
