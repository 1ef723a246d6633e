// The small request/response vocabulary between the HTTP server and its handlers, so
// handlers (the /audit endpoint, health, metrics) know nothing of Beast or sockets.
#pragma once

#include <functional>
#include <string>

namespace ktrail::ingest {

struct HttpRequest {
  std::string method;  // "POST"
  std::string path;    // "/audit" (the query string removed)
  std::string query;   // "timeout=30s"
  std::string body;
  std::string peer;         // "127.0.0.1:51234"
  std::string client_name;  // verified client-certificate CN, or ""
  // The cluster the request belongs to (ingest/cluster_auth.h), decided before the handler.
  std::string cluster = "default";
};

struct HttpResponse {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  int retry_after_seconds = -1;  // >= 0 adds a Retry-After header
};

// Sends the response of one request. Handlers call it exactly once, from any thread, possibly
// long after handle() returned (the /audit handler answers when the store has committed).
// Destroyed without being called, it closes the connection unanswered. Called or destroyed
// after the server stopped, it does nothing (it never outlives what it points to).
using Responder = std::function<void(HttpResponse)>;

// What a route requires before its handler sees the request.
enum class RouteKind {
  kProbe,   // GET without a body and without authentication: health, readiness, metrics
  kIngest,  // POST of a JSON body: authenticated, content type and size checked; a path other
            // than "/" also answers path + "/{cluster}", which claims that cluster
            // (ingest/cluster_auth.h)
};

struct Route {
  std::string method;
  std::string path;  // exact match on the path, query excluded
  RouteKind kind = RouteKind::kProbe;
  std::function<void(HttpRequest, Responder)> handler;
};

// A JSON error body: {"error":"<message>"} with the message escaped.
std::string json_error(const std::string& message);

}  // namespace ktrail::ingest
