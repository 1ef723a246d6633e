// TLS for the webhook server: the server certificate (`--tls-cert`, `--tls-key`) and, with
// `--client-ca`, verification of client certificates (mutual TLS, as kube-apiserver does when
// its webhook kubeconfig has client-certificate/client-key).
//
// A client certificate is requested and, when presented, must chain to the client CA or the
// handshake fails. A client that presents none still completes the handshake; the HTTP layer
// then answers 401 on the ingest endpoints (so health probes without certificates still work).
// TLS 1.2 is the minimum.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace ktrail::ingest {

struct TlsOptions {
  std::string cert_file;       // PEM certificate chain, server certificate first
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // PEM CA bundle; empty: no client certificates asked for
  bool enabled() const { return !cert_file.empty(); }
};

Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(
    const TlsOptions& options);

// The subject CN of the peer's certificate if the handshake verified one, else "".
std::string verified_peer_name(SSL* ssl);
// The DNS and URI subject alternative names of the peer's certificate if the handshake
// verified one (in the certificate's order), else none.
std::vector<std::string> verified_peer_sans(SSL* ssl);

}  // namespace ktrail::ingest
