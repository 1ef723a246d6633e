#include "ingest/batch_endpoint.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/metrics.h"
#include "ingest/cluster_metrics.h"

namespace ktrail::ingest {
namespace {

Metric& batches_metric(const char* result) {
  return MetricsRegistry::global().get("ktrail_ingest_requests_total", MetricType::kCounter,
                                       "Ingest requests, by what became of them",
                                       std::string("result=\"") + result + "\"");
}

HttpResponse error_response(unsigned status, const std::string& message, int retry_after) {
  HttpResponse r;
  r.status = status;
  r.body = json_error(message);
  r.retry_after_seconds = retry_after;
  return r;
}

}  // namespace

std::string outcome_json(const BatchOutcome& o) {
  return "{\"stored\":" + std::to_string(o.stored) +
         ",\"duplicates\":" + std::to_string(o.duplicates) +
         ",\"rejected\":" + std::to_string(o.rejected) +
         ",\"dropped\":" + std::to_string(o.dropped_by_policy) + "}";
}

std::function<void(HttpRequest, Responder)> make_batch_handler(
    std::shared_ptr<const PayloadDecoder> decoder, BatchSink* sink, BatchEndpointOptions options) {
  static Metric& received =
      MetricsRegistry::global().get("ktrail_ingest_items_received_total", MetricType::kCounter,
                                    "Items (events and rejected items) received over HTTP");
  return [decoder, sink, options](HttpRequest request, Responder respond) {
    Batch batch;
    batch.origin = "webhook " + request.peer;
    batch.cluster = request.cluster;
    Status decoded = decoder->decode_document(request.body, &batch);
    request.body.clear();
    request.body.shrink_to_fit();
    if (!decoded.is_ok()) {
      batches_metric("invalid").add();
      respond(error_response(400, decoded.message(), -1));
      return;
    }
    const std::size_t items = batch.audit.size() + batch.events.size() + batch.rejected.size();
    received.add(static_cast<std::int64_t>(items));
    count_cluster_received(batch.cluster, items);
    if (items == 0) {
      batches_metric("empty").add();
      HttpResponse r;
      r.body = outcome_json({});
      respond(std::move(r));
      return;
    }
    // The responder is shared: submit() takes `done` by value but calls it only if accepted.
    auto shared = std::make_shared<Responder>(std::move(respond));
    const SubmitResult result = sink->submit(
        std::move(batch), [shared, options, cluster = request.cluster](const Status& status,
                                                                       const BatchOutcome& outcome) {
          if (status.is_ok()) {
            count_cluster_outcome(cluster, outcome);
            HttpResponse r;
            r.body = outcome_json(outcome);
            (*shared)(std::move(r));
          } else {
            spdlog::warn("batch not stored: {}", status.to_string());
            (*shared)(error_response(503, "batch not stored: " + status.message(),
                                     options.retry_after_unavailable_seconds));
          }
        });
    switch (result) {
      case SubmitResult::kAccepted:
        batches_metric("accepted").add();
        break;
      case SubmitResult::kFull:
        batches_metric("queue_full").add();
        (*shared)(error_response(429, "queue full, retry later", options.retry_after_full_seconds));
        break;
      case SubmitResult::kUnavailable:
        batches_metric("unavailable").add();
        (*shared)(error_response(503, "pipeline unavailable (shutting down or failing)",
                                 options.retry_after_unavailable_seconds));
        break;
    }
  };
}

}  // namespace ktrail::ingest
