#include "ingest/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace ktrail::ingest {

namespace ssl = boost::asio::ssl;

Result<std::shared_ptr<ssl::context>> make_server_tls_context(const TlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return invalid_argument("--tls-cert and --tls-key must be given together");
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  if (ec) {
    return internal_error("TLS options: " + ec.message());
  }
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->use_certificate_chain_file(options.cert_file, ec);
  if (ec) {
    return invalid_argument("cannot load --tls-cert " + options.cert_file + ": " + ec.message());
  }
  ctx->use_private_key_file(options.key_file, ssl::context::pem, ec);
  if (ec) {
    return invalid_argument("cannot load --tls-key " + options.key_file + ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return invalid_argument("--tls-key does not match the certificate in --tls-cert");
  }
  if (!options.client_ca_file.empty()) {
    ctx->load_verify_file(options.client_ca_file, ec);
    if (ec) {
      return invalid_argument("cannot load --client-ca " + options.client_ca_file + ": " +
                              ec.message());
    }
    // Tell clients which CAs are acceptable, so they pick the right certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca_file.c_str());
    if (names != nullptr) {
      SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
    }
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (ec) {
      return internal_error("TLS verify mode: " + ec.message());
    }
  }
  return ctx;
}

std::string verified_peer_name(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
    return "";
  }
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  // A verified certificate without a CN still authenticates; name it by something non-empty.
  return cn[0] != '\0' ? std::string(cn) : std::string("(verified certificate)");
}

std::vector<std::string> verified_peer_sans(SSL* ssl) {
  std::vector<std::string> out;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
    return out;
  }
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    return out;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_DNS && name->type != GEN_URI) {
      continue;
    }
    const ASN1_IA5STRING* text =
        name->type == GEN_DNS ? name->d.dNSName : name->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                     static_cast<std::size_t>(ASN1_STRING_length(text)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace ktrail::ingest
