// One HTTP connection of the webhook server (internal to ingest/http_server.cpp).
//
// The same session logic serves plain TCP and TLS streams. Every callback of a session runs
// on the session's strand, so its members need no locking; the Responder given to handlers
// posts back to that strand from whatever thread calls it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/cluster.h"
#include "ingest/http_server_impl.h"

namespace ktrail::ingest {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  static constexpr std::size_t kBodyReadBytes = 256 * 1024;
  static constexpr std::size_t kFirstReadBytes = 4096;
  static constexpr std::chrono::seconds kDrainQuiet{5};

 public:
  Session(HttpServer::Impl* server, Stream stream, std::string peer, std::uint64_t slot)
      : server_(server), stream_(std::move(stream)), peer_(std::move(peer)), slot_(slot) {}
  ~Session() {
    if (request_active_) {
      server_->end_request();
    }
    server_->slots->release(slot_);
    server_->connections.fetch_sub(1);
  }

  // The TLS context the stream was made with: kept alive for the connection's life, whatever
  // reloads happen meanwhile.
  void keep_tls_context(std::shared_ptr<net::ssl::context> ctx) { tls_context_ = std::move(ctx); }

  void run() {
    // Shedding (ingest/connection_slots.h) closes the connection from its own strand, and only
    // while it still waits for a request.
    std::weak_ptr<Session> weak = this->shared_from_this();
    server_->slots->attach(slot_, [weak] {
      if (auto self = weak.lock()) {
        net::post(self->tcp().get_executor(), [self] {
          if (self->waiting_) {
            self->close_now();
          }
        });
      }
    });
    if constexpr (kTls) {
      tcp().expires_after(server_->options.handshake_timeout);
      stream_.async_handshake(
          net::ssl::stream_base::server,
          [self = this->shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
    } else {
      read_header();
    }
  }

 private:
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      return close_now();
    }
    if constexpr (kTls) {
      client_name_ = verified_peer_name(stream_.native_handle());
      client_sans_ = verified_peer_sans(stream_.native_handle());
    }
    read_header();
  }

  // Waits for the next request: idle_timeout for its first byte on a kept-alive connection,
  // then header_timeout for the whole header (a new connection gets header_timeout at once).
  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    set_waiting(true);
    if (!served_ || buffer_.size() > 0) {
      return read_header_in_time();
    }
    tcp().expires_after(server_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->buffer_.commit(n);
                              if (ec) {
                                return self->on_header(ec);
                              }
                              self->read_header_in_time();
                            });
  }

  void read_header_in_time() {
    tcp().expires_after(server_->options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void set_waiting(bool waiting) {
    if (waiting_ != waiting) {
      waiting_ = waiting;
      server_->slots->set_waiting(slot_, waiting);
    }
  }

  void on_header(beast::error_code ec) {
    if (ec && ended_without_request(ec)) {
      return close_now();
    }
    set_waiting(false);
    served_ = true;
    begin_request();
    route_ = nullptr;
    request_start_ = std::chrono::steady_clock::now();
    if (ec == http::error::header_limit) {
      return reject(431, "request header larger than " +
                             std::to_string(server_->options.max_header_bytes) + " bytes");
    }
    if (ec == http::error::body_limit) {  // a Content-Length over the limit
      return reject(413, "body over the limit of " +
                             std::to_string(server_->options.max_body_bytes) + " bytes");
    }
    if (ec) {
      return reject(400, "malformed HTTP request: " + ec.message());
    }
    const auto& req = parser_->get();
    const std::string_view target(req.target().data(), req.target().size());
    const auto q = target.find('?');
    path_ = std::string(target.substr(0, q));
    query_ = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
    bool path_known = false;
    std::string claimed_cluster;
    route_ = server_->find_route(std::string(req.method_string()), path_, &path_known,
                                 &claimed_cluster);
    if (route_ == nullptr) {
      return path_known ? reject(405, "method not allowed on " + path_)
                        : reject(404, "no such endpoint: " + path_);
    }
    if (route_->kind == RouteKind::kIngest) {
      if (const char* why = unauthenticated(req)) {
        server_->log_refusal(401, peer_, path_, why);
        return reject(401, "authentication required");
      }
      if (!claimed_cluster.empty()) {
        if (const Status valid = check_cluster_name(claimed_cluster, "the cluster of the path");
            !valid.is_ok()) {
          return reject(400, valid.message());
        }
      }
      const ClusterDecision decided =
          decide_cluster({token_cluster_, certificate_cluster(), claimed_cluster});
      if (!decided.refused_reason.empty()) {
        server_->log_refusal(403, peer_, path_, decided.refused_reason);
        return reject(403, decided.refused_reason);
      }
      cluster_ = decided.cluster;
      const std::string_view encoding(req[http::field::content_encoding].data(),
                                      req[http::field::content_encoding].size());
      if (!encoding.empty() && !iequals(encoding, "identity")) {
        return reject(415, "unsupported Content-Encoding '" + std::string(encoding) + "'");
      }
      const std::string_view type(req[http::field::content_type].data(),
                                  req[http::field::content_type].size());
      if (!is_json_type(type)) {
        return reject(
            415, "unsupported Content-Type '" + std::string(type) + "', expected application/json");
      }
      const auto length = parser_->content_length();
      if (length && *length > server_->options.max_body_bytes) {
        return reject(413, "body of " + std::to_string(*length) + " bytes is over the limit of " +
                               std::to_string(server_->options.max_body_bytes));
      }
    }
    if (iequals({req[http::field::expect].data(), req[http::field::expect].size()},
                "100-continue")) {
      continue_.emplace(http::status::continue_, 11);
      tcp().expires_after(server_->options.read_timeout);
      return http::async_write(stream_, *continue_,
                               [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                                 if (e) {
                                   return self->close_now();
                                 }
                                 self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    // Each socket read fills at most the buffer's free room, which after the header is a few
    // KB: a large body would take hundreds of reads (a strand hop and a timer update each).
    // Room for a bigger read is given for the body, and returned after it.
    if (const auto length = parser_->content_length(); length && *length > buffer_.capacity()) {
      buffer_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, kBodyReadBytes)));
    }
    tcp().expires_after(server_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_body(ec);
                     });
  }

  void on_body(beast::error_code ec) {
    tcp().expires_never();
    if (buffer_.size() == 0) {
      buffer_.shrink_to_fit();  // idle connections keep no large buffer
    }
    if (ec == http::error::body_limit) {
      return reject(413, "body over the limit of " +
                             std::to_string(server_->options.max_body_bytes) + " bytes");
    }
    if (ec) {
      // The client went away mid-request, or did not send the body within the read timeout
      // (the stream has closed the socket then): there is nobody left to answer.
      return close_now();
    }
    auto message = parser_->release();
    keep_alive_ = message.keep_alive();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.path = path_;
    request.query = query_;
    request.body = std::move(message.body());
    request.peer = peer_;
    request.client_name = client_name_;
    request.cluster = cluster_;
    auto self = this->shared_from_this();
    server_->hold_awaiting(self);
    auto reply = std::make_shared<Reply>(server_, self);
    Responder respond = [reply](HttpResponse response) { reply->answer(std::move(response)); };
    route_->handler(std::move(request), std::move(respond));
  }

  // The state behind a Responder. It names its session weakly and reaches the server only
  // through the server's reply gate, so calling or destroying it on any thread, at any time,
  // is safe: after stop() it does nothing. Destroyed without an answer, it ends the request
  // and closes the connection.
  class Reply {
   public:
    Reply(HttpServer::Impl* server, const std::shared_ptr<Session>& session)
        : server_(server), gate_(server->reply_gate), session_(session) {}
    Reply(const Reply&) = delete;
    Reply& operator=(const Reply&) = delete;
    ~Reply() {
      if (!answered_.exchange(true)) {
        send(std::nullopt);
      }
    }
    void answer(HttpResponse response) {
      if (!answered_.exchange(true)) {
        send(std::move(response));
      }
    }

   private:
    void send(std::optional<HttpResponse> response) {
      std::lock_guard lock(gate_->mutex);
      if (!gate_->open) {
        return;
      }
      // Onto the server's context first, holding the session only weakly; the session's own
      // executor (a strand) is reached from there.
      net::post(server_->ioc, [session = session_, r = std::move(response)]() mutable {
        if (auto self = session.lock()) {
          auto executor = self->tcp().get_executor();
          net::post(executor, [self = std::move(self), r = std::move(r)]() mutable {
            self->on_answer(std::move(r));
          });
        }
      });
    }

    HttpServer::Impl* server_;  // used only while the gate is open
    std::shared_ptr<HttpServer::Impl::ReplyGate> gate_;
    std::weak_ptr<Session> session_;
    std::atomic<bool> answered_{false};
  };

  void on_answer(std::optional<HttpResponse> response) {
    auto held = server_->take_awaiting(this);
    if (!held) {
      return;  // the server has stopped and closed this connection
    }
    if (response) {
      write_response(std::move(*response), false);
    } else {
      close_now();
    }
  }

  // Whether a header read failed because the connection ended or broke rather than because
  // the client sent something that is not HTTP. Then there is nobody to answer and nothing was
  // answered: a TLS peer that closes without close_notify (kube-apiserver exiting, a load
  // balancer probe) gives stream_truncated, a peer gone mid-header gives partial_message; no
  // 400 is written or counted for either.
  static bool ended_without_request(const beast::error_code& ec) {
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
      return true;
    }
    // Every other http::error is a parse error of bytes the client did send.
    return ec.category() != http::make_error_code(http::error::end_of_stream).category();
  }

  // Why the request is not authenticated, or null when it is. The reason names what was
  // missing or refused, never the credential itself.
  // On success, token_cluster_ is the cluster the token names ("" for none).
  const char* unauthenticated(const http::request<http::string_body>& req) {
    token_cluster_.clear();
    if (server_->client_ca_required && client_name_.empty()) {
      return "no verified client certificate";
    }
    if (server_->token_required) {
      const auto tokens = server_->current_tokens();
      const auto value = req[http::field::authorization];
      if (value.empty()) {
        return "no Authorization header";
      }
      if (!tokens || !tokens->check({value.data(), value.size()}, &token_cluster_)) {
        return "bearer token not accepted";
      }
    }
    return nullptr;
  }

  // The cluster the verified client certificate names: through the client cluster map (CN
  // first, then SANs), or without a map its CN when that is a valid cluster name; else "".
  std::string certificate_cluster() const {
    if (client_name_.empty()) {
      return "";
    }
    if (const auto map = server_->current_cluster_map()) {
      std::vector<std::string> identities = {client_name_};
      identities.insert(identities.end(), client_sans_.begin(), client_sans_.end());
      return map->cluster_of(identities);
    }
    return valid_cluster_name(client_name_) ? client_name_ : std::string();
  }

  // Answers before the body was read. Without a body the connection stays usable; with one,
  // it is closed after the answer (the unread body is drained so the client sees the answer).
  void reject(unsigned status, const std::string& message) {
    const bool has_body = parser_ && !parser_->is_done();
    drain_expected_.reset();
    if (has_body && parser_->is_header_done() && !parser_->chunked()) {
      if (const auto length = parser_->content_length()) {
        // Nothing of the body was parsed: what follows the header in buffer_ is body.
        drain_expected_ = *length > buffer_.size() ? *length - buffer_.size() : 0;
      }
    }
    keep_alive_ = !has_body && parser_ && parser_->is_header_done() && parser_->keep_alive();
    HttpResponse response;
    response.status = status;
    response.body = json_error(message);
    write_response(std::move(response), has_body);
  }

  void write_response(HttpResponse r, bool body_unread) {
    res_.emplace(static_cast<http::status>(r.status), 11);
    res_->set(http::field::server, "ktrail");
    res_->set(http::field::content_type, r.content_type);
    if (r.retry_after_seconds >= 0) {
      res_->set(http::field::retry_after, std::to_string(r.retry_after_seconds));
    }
    if (r.status == 401 && server_->token_required) {
      res_->set(http::field::www_authenticate, "Bearer realm=\"ktrail\"");
    }
    res_->body() = std::move(r.body);
    res_->keep_alive(keep_alive_ && !body_unread && !server_->draining.load());
    res_->prepare_payload();
    server_->count_response(r.status);
    tcp().expires_after(server_->options.read_timeout);
    http::async_write(
        stream_, *res_,
        [self = this->shared_from_this(), body_unread](beast::error_code ec, std::size_t) {
          self->on_written(ec, body_unread);
        });
  }

  void on_written(beast::error_code ec, bool body_unread) {
    if (request_active_) {
      server_->observe_latency(
          route_, std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start_)
                      .count());
    }
    end_request();
    const bool keep = res_->keep_alive();
    res_.reset();
    if (ec) {
      return close_now();
    }
    if (!keep) {
      return body_unread ? drain_and_close() : graceful_close();
    }
    read_header();
  }

  // Half-closes and discards what the client still sends, so that closing with unread data
  // does not reset the connection before the client read the answer: until the client has sent
  // what its Content-Length announced (then the close is clean), goes quiet for 5 s or closes,
  // for at most read_timeout. A connection being drained is waiting, so it can be shed.
  void drain_and_close() {
    beast::error_code ignored;
    tcp().socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    set_waiting(true);
    drain_until_ = std::chrono::steady_clock::now() + server_->options.read_timeout;
    drain_budget_ = drain_expected_ ? *drain_expected_ : server_->options.max_body_bytes + (1u << 20);
    buffer_.consume(buffer_.size());
    if (drain_expected_ && drain_budget_ == 0) {
      return close_now();
    }
    drain_more();
  }

  void drain_more() {
    const auto left = drain_until_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      return close_now();
    }
    tcp().expires_after(std::min<std::chrono::steady_clock::duration>(left, kDrainQuiet));
    tcp().async_read_some(net::buffer(scratch_),
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                            if (ec || n >= self->drain_budget_) {
                              return self->close_now();
                            }
                            self->drain_budget_ -= n;
                            self->drain_more();
                          });
  }

  void graceful_close() {
    if constexpr (kTls) {
      tcp().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->close_now(); });
    } else {
      beast::error_code ignored;
      tcp().socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
      close_now();
    }
  }

  void close_now() {
    tcp().expires_never();
    tcp().close();
  }

  void begin_request() {
    if (!request_active_) {
      request_active_ = true;
      server_->begin_request();
    }
  }
  void end_request() {
    if (request_active_) {
      request_active_ = false;
      server_->end_request();
    }
  }

  HttpServer::Impl* server_;
  std::shared_ptr<net::ssl::context> tls_context_;  // declared first: outlives stream_
  Stream stream_;
  std::string peer_;
  std::string client_name_;
  std::vector<std::string> client_sans_;
  std::string token_cluster_;
  std::string cluster_ = "default";
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::optional<http::response<http::empty_body>> continue_;
  std::string path_;
  std::string query_;
  const Route* route_ = nullptr;
  std::chrono::steady_clock::time_point request_start_{};
  bool keep_alive_ = true;
  bool request_active_ = false;
  std::size_t drain_budget_ = 0;
  std::optional<std::uint64_t> drain_expected_;  // body bytes still to come, when known
  std::chrono::steady_clock::time_point drain_until_;
  std::uint64_t slot_;
  bool waiting_ = true;  // no request in progress (ingest/connection_slots.h)
  bool served_ = false;  // a request header was read on this connection
  char scratch_[16384];
};

}  // namespace ktrail::ingest
