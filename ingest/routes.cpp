#include "ingest/routes.h"

#include "core/metrics.h"

namespace ktrail::ingest {

Result<std::vector<Route>> webhook_routes(const WebhookRoutesOptions& options) {
  auto audit = make_decoder(PayloadKind::kAudit);
  if (!audit) {
    return audit.status();
  }
  auto audit_handler = make_batch_handler(*audit, options.sink, options.endpoint);
  std::vector<Route> routes;
  routes.push_back({"POST", "/audit", RouteKind::kIngest, audit_handler});
  routes.push_back({"POST", "/", RouteKind::kIngest, audit_handler});
  routes.push_back({"GET", "/healthz", RouteKind::kProbe, [](HttpRequest, Responder respond) {
                      respond({200, "ok\n", "text/plain", -1});
                    }});
  routes.push_back(
      {"GET", "/readyz", RouteKind::kProbe,
       [sink = options.sink, ready = options.ready](HttpRequest, Responder respond) {
         const bool ok = sink->ready() && (!ready || ready());
         respond({ok ? 200u : 503u, ok ? "ok\n" : "not ready\n", "text/plain", ok ? -1 : 1});
       }});
  routes.push_back({"GET", "/metrics", RouteKind::kProbe, [](HttpRequest, Responder respond) {
                      respond({200, MetricsRegistry::global().render_prometheus(),
                               "text/plain; version=0.0.4", -1});
                    }});
  return routes;
}

}  // namespace ktrail::ingest
