// The endpoints of `ktrail serve`, assembled in one table:
//   POST /audit and POST /   audit EventList or Event (kube-apiserver's webhook kubeconfig may
//                            name the server with or without a path; both reach the audit
//                            endpoint). Any other path is 404, so a typo is seen at once.
//   POST /events             Kubernetes Events: core/v1 or events.k8s.io/v1 Event, List/EventList,
//                            JSON lines or watch-stream lines
//   POST /audit/{cluster}, /events/{cluster}
//                            the same, for that cluster (ingest/cluster_auth.h)
//   GET  /healthz            200 while the process serves
//   GET  /readyz             200 when the pipeline takes work, else 503
//   GET  /metrics            Prometheus text format
#pragma once

#include <functional>
#include <vector>

#include "core/batch_sink.h"
#include "ingest/batch_endpoint.h"
#include "ingest/http_types.h"

namespace ktrail::ingest {

struct WebhookRoutesOptions {
  BatchSink* sink = nullptr;    // must outlive the server
  std::function<bool()> ready;  // readiness beyond the sink's own (e.g. not draining)
  BatchEndpointOptions endpoint;
};

Result<std::vector<Route>> webhook_routes(const WebhookRoutesOptions& options);

}  // namespace ktrail::ingest
