// The webhook HTTP(S) server of `ktrail serve`, on Boost.Beast.
//
// Contract:
//  - HTTP/1.1 with keep-alive (kube-apiserver reuses its connections); no HTTP/2 is offered
//    over ALPN, so Go clients fall back to HTTP/1.1. Requests on a connection are answered in
//    order; an ingest request is answered only when its handler calls the Responder.
//  - Before an ingest route's handler runs, the server checks, in this order: authentication
//    (client certificate when a client CA is set, bearer token when a token file is set; both
//    when both are set) -> 401; Content-Encoding other than identity and Content-Type other
//    than JSON -> 415; a body over max_body_bytes -> 413. Refused bodies are never handed on.
//  - Unknown paths: 404; known path, wrong method: 405. Never a redirect.
//  - The cluster of an ingest request (ingest/cluster_auth.h) is decided after authentication:
//    a path naming an invalid cluster -> 400; a claim the credential is not mapped to -> 403.
//  - Timeouts: idle keep-alive connections are closed after idle_timeout. A request header
//    must arrive within header_timeout of its first byte (of the connection's start for a new
//    connection, of the TLS handshake's end for TLS): a client cannot hold a connection with a
//    half-sent header, or a new connection without a request, for the idle timeout. A body must
//    arrive within read_timeout.
//  - Connection slots (ingest/connection_slots.h): at most max_connections_per_peer from one
//    address and max_connections in all; at the limit the connection waiting longest (idle,
//    in a header, in a handshake) is shed for the new one, and if every connection has a
//    request in progress the new one is refused. ktrail_http_connections_refused_total{reason}
//    and ktrail_http_connections_shed_total count them.
//  - A body over max_body_bytes is answered 413 and the connection closed cleanly: the rest of
//    the upload is read and discarded (up to what Content-Length announced, for at most
//    read_timeout, until the client is quiet for 5 s) so the client reads the 413 instead of a
//    reset.
//  - Threads: `threads` I/O threads run the handlers. Handlers must not block.
//  - reload() reads the certificate, key, client CA, token and client cluster map files again (their paths stay):
//    new connections get the new certificate and CA, and every later request is checked
//    against the new tokens. If any file fails to load, nothing changes and the error is
//    returned.
//  - Shutdown: stop_accepting() closes the listener and makes every later response close its
//    connection; wait_idle() waits for in-flight requests to be answered; stop() ends the I/O
//    threads and closes every connection, also those whose handler has not answered yet (their
//    Responders then do nothing, whenever they are called or destroyed).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "ingest/auth.h"
#include "ingest/http_types.h"
#include "ingest/tls.h"

namespace ktrail::ingest {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: an ephemeral port, see HttpServer::port()
  TlsOptions tls;
  std::string token_file;
  // `identity,cluster` lines: the cluster of a client certificate's CN or SAN
  // (ingest/cluster_auth.h); empty: a certificate's CN is its cluster.
  std::string client_cluster_map;
  std::size_t max_body_bytes = 12u << 20;
  std::size_t max_header_bytes = 16u << 10;
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds idle_timeout{90000};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds handshake_timeout{10000};
  int threads = 2;
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_peer = 64;
};

class HttpServer {
 public:
  // Loads TLS material and tokens and binds the listening socket; errors name the option.
  static Result<std::unique_ptr<HttpServer>> create(const HttpServerOptions& options,
                                                    std::vector<Route> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts accepting on the I/O threads.
  void start();
  std::uint16_t port() const;
  // "127.0.0.1:8443", the bound address.
  std::string local_address() const;
  bool tls() const;
  // Connections accepted and not yet closed.
  std::size_t open_connections() const;
  // Loads the TLS files and the token file again; see the contract above.
  Status reload();

  void stop_accepting();
  // True when no request is in flight; false if `timeout` passed first.
  bool wait_idle(std::chrono::milliseconds timeout);
  void stop();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses "host:port", "[v6]:port" or ":port" (all interfaces).
Status parse_listen_address(const std::string& text, std::string* host, std::uint16_t* port);

}  // namespace ktrail::ingest
