// Where ingest hands decoded batches: the embedded queue in front of the pipeline, or the
// Kafka producer of the ingest role. Ingest knows only this interface.
//
// Contract:
//  - submit() never blocks on I/O. It either accepts the batch, and then calls `done` exactly
//    once, later and from another thread, when the batch is durable or has failed; or it
//    refuses at once, and then never calls `done`.
//  - kFull means "retry soon" (HTTP 429); kUnavailable means the backend is down (HTTP 503).
//  - submit() may be called from several threads at once.
#pragma once

#include "core/batch.h"

namespace ktrail {

enum class SubmitResult { kAccepted, kFull, kUnavailable };

class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual SubmitResult submit(Batch batch, BatchDone done) = 0;
  // True when the sink can take work (for /readyz).
  virtual bool ready() const = 0;
};

}  // namespace ktrail
