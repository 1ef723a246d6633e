#include "tests/support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <optional>

namespace ktrail::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct HttpClient::Impl {
  ClientOptions options;
  net::io_context ioc;
  std::optional<ssl::context> ctx;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // Runs the queued asynchronous work to completion; the stream's expiry bounds it.
  void run() {
    ioc.restart();
    ioc.run();
  }

  template <typename Fn>
  beast::error_code with_stream(Fn fn) {
    if (secure) {
      return fn(*secure);
    }
    return fn(*plain);
  }
};

HttpClient::HttpClient(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

HttpClient::~HttpClient() = default;

Status HttpClient::connect() {
  Impl& m = *impl_;
  m.plain.reset();
  m.secure.reset();
  m.buffer.clear();
  beast::error_code ec;
  const tcp::endpoint endpoint(net::ip::make_address(m.options.host, ec), m.options.port);
  if (ec) {
    return invalid_argument(ec.message());
  }
  if (m.options.tls) {
    m.ctx.emplace(ssl::context::tls_client);
    if (!m.options.ca_file.empty()) {
      m.ctx->load_verify_file(m.options.ca_file, ec);
      m.ctx->set_verify_mode(ssl::verify_peer);
    }
    if (!ec && !m.options.cert_file.empty()) {
      m.ctx->use_certificate_chain_file(m.options.cert_file, ec);
      if (!ec) {
        m.ctx->use_private_key_file(m.options.key_file, ssl::context::pem, ec);
      }
    }
    if (ec) {
      return io_error("client TLS setup: " + ec.message());
    }
    m.secure.emplace(m.ioc, *m.ctx);
  } else {
    m.plain.emplace(m.ioc);
  }
  m.tcp().expires_after(m.options.timeout);
  m.tcp().async_connect(endpoint, [&](beast::error_code e) { ec = e; });
  m.run();
  if (ec) {
    return io_error("connect: " + ec.message());
  }
  if (m.secure) {
    m.tcp().expires_after(m.options.timeout);
    m.secure->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    m.run();
    if (ec) {
      return io_error("TLS handshake: " + ec.message());
    }
  }
  return Status::ok();
}

Status HttpClient::write_raw(const std::string& bytes) {
  Impl& m = *impl_;
  if (!m.plain && !m.secure) {
    KTRAIL_RETURN_IF_ERROR(connect());
  }
  beast::error_code ec;
  m.tcp().expires_after(m.options.timeout);
  m.with_stream([&](auto& s) {
    net::async_write(s, net::buffer(bytes), [&](beast::error_code e, std::size_t) { ec = e; });
    return ec;
  });
  m.run();
  if (ec) {
    return io_error("write: " + ec.message());
  }
  return Status::ok();
}

Result<ClientResponse> HttpClient::read_response() {
  Impl& m = *impl_;
  beast::error_code ec;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1u << 30);
  m.tcp().expires_after(m.options.timeout);
  m.with_stream([&](auto& s) {
    http::async_read(s, m.buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    return ec;
  });
  m.run();
  if (ec) {
    return io_error("read: " + ec.message());
  }
  auto msg = parser.release();
  ClientResponse out;
  out.status = msg.result_int();
  out.body = std::move(msg.body());
  out.keep_alive = msg.keep_alive();
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    out.headers[name] = std::string(field.value());
  }
  return out;
}

Result<ClientResponse> HttpClient::request(const std::string& method, const std::string& target,
                                           const std::string& body, const Headers& headers) {
  Impl& m = *impl_;
  if (!m.plain && !m.secure) {
    KTRAIL_RETURN_IF_ERROR(connect());
  }
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, m.options.host);
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    req.set(name, value);
    has_type = has_type || name == "Content-Type";
  }
  if (!body.empty() && !has_type) {
    req.set(http::field::content_type, "application/json");
  }
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  m.tcp().expires_after(m.options.timeout);
  m.with_stream([&](auto& s) {
    http::async_write(s, req, [&](beast::error_code e, std::size_t) { ec = e; });
    return ec;
  });
  m.run();
  if (ec) {
    return io_error("write: " + ec.message());
  }
  return read_response();
}

std::string HttpClient::read_until_close() {
  Impl& m = *impl_;
  std::string out(static_cast<const char*>(m.buffer.data().data()), m.buffer.size());
  m.buffer.clear();
  char chunk[8192];
  for (;;) {
    beast::error_code ec;
    std::size_t n = 0;
    m.tcp().expires_after(m.options.timeout);
    m.with_stream([&](auto& s) {
      s.async_read_some(net::buffer(chunk), [&](beast::error_code e, std::size_t k) {
        ec = e;
        n = k;
      });
      return ec;
    });
    m.run();
    out.append(chunk, n);
    if (ec) {
      return out;
    }
  }
}

void HttpClient::close() {
  Impl& m = *impl_;
  if (m.plain || m.secure) {
    m.tcp().close();
  }
  m.plain.reset();
  m.secure.reset();
}

}  // namespace ktrail::testing
