// The ingest endpoint (POST /audit): decode the body on the HTTP thread, hand the batch to a
// BatchSink, and answer when the sink reports the batch durable.
//
// Response contract (what kube-apiserver's webhook client acts upon):
//   200 {"stored":N,"duplicates":M,"rejected":K,"dropped":D}  only after the batch committed
//   400 {"error":"invalid JSON at offset ..."}                 body is not JSON / not a list
//   429 + Retry-After                                           the queue is full
//   503 + Retry-After                                           the pipeline is failing or stopping
// Items that are valid JSON but not valid records are stored aside (dead letters) and counted
// in "rejected"; the batch is still answered 200, since a 4xx would make the apiserver retry the
// whole batch and finally drop the good events with it.
#pragma once

#include <memory>

#include "core/batch_sink.h"
#include "ingest/decoder.h"
#include "ingest/http_types.h"

namespace ktrail::ingest {

struct BatchEndpointOptions {
  int retry_after_full_seconds = 1;
  int retry_after_unavailable_seconds = 5;
};

// `sink` must outlive every request handled (the server is stopped before the sink goes).
std::function<void(HttpRequest, Responder)> make_batch_handler(
    std::shared_ptr<const PayloadDecoder> decoder, BatchSink* sink, BatchEndpointOptions options);

std::string outcome_json(const BatchOutcome& outcome);

}  // namespace ktrail::ingest
