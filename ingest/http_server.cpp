#include "ingest/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/strand.hpp>
#include <cctype>

#include "core/metrics.h"
#include "ingest/http_server_impl.h"
#include "ingest/http_session.h"

namespace ktrail::ingest {

using tcp = net::ip::tcp;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool is_json_type(std::string_view type) {
  type = type.substr(0, type.find(';'));
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) {
    type.remove_suffix(1);
  }
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) {
    type.remove_prefix(1);
  }
  if (type.empty() || iequals(type, "application/json")) {
    return true;
  }
  constexpr std::string_view kApp = "application/";
  constexpr std::string_view kSuffix = "+json";
  return type.size() > kApp.size() + kSuffix.size() && iequals(type.substr(0, kApp.size()), kApp) &&
         iequals(type.substr(type.size() - kSuffix.size()), kSuffix);
}

std::string json_error(const std::string& message) {
  std::string out = "{\"error\":\"";
  for (unsigned char c : message) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += "\"}";
  return out;
}

const Route* HttpServer::Impl::find_route(const std::string& method, const std::string& path,
                                          bool* path_known, std::string* cluster) const {
  *path_known = false;
  cluster->clear();
  for (const Route& route : routes) {
    const bool suffixed = route.kind == RouteKind::kIngest && route.path != "/" &&
                          path.size() > route.path.size() + 1 &&
                          path.compare(0, route.path.size(), route.path) == 0 &&
                          path[route.path.size()] == '/' &&
                          path.find('/', route.path.size() + 1) == std::string::npos;
    if (suffixed) {
      *cluster = path.substr(route.path.size() + 1);
    }
    if (route.path == path || suffixed) {
      *path_known = true;
      if (route.method == method) {
        return &route;
      }
    }
  }
  return nullptr;
}

void HttpServer::Impl::begin_request() {
  std::lock_guard lock(idle_mutex);
  ++in_flight;
}

void HttpServer::Impl::end_request() {
  {
    std::lock_guard lock(idle_mutex);
    --in_flight;
  }
  idle_cv.notify_all();
}

void HttpServer::Impl::count_response(unsigned status) {
  MetricsRegistry::global()
      .get("ktrail_http_responses_total", MetricType::kCounter,
           "HTTP responses sent, by status code", "code=\"" + std::to_string(status) + "\"")
      .add();
}

void HttpServer::Impl::register_latency_metrics() {
  auto& registry = MetricsRegistry::global();
  const std::string help = "Time from a request's header to its answer written, by endpoint";
  route_latency_.clear();
  for (const Route& route : routes) {
    route_latency_.push_back(&registry.histogram("ktrail_http_request_duration_seconds", help,
                                                 "path=\"" + route.path + "\""));
  }
  other_latency_ =
      &registry.histogram("ktrail_http_request_duration_seconds", help, "path=\"other\"");
}

void HttpServer::Impl::observe_latency(const Route* route, double seconds) {
  Histogram* h = other_latency_;
  if (route != nullptr) {
    const auto i = static_cast<std::size_t>(route - routes.data());
    if (i < route_latency_.size()) {
      h = route_latency_[i];
    }
  }
  if (h != nullptr) {
    h->observe(seconds);
  }
}

void HttpServer::Impl::log_refusal(unsigned status, const std::string& peer,
                                   const std::string& path, const std::string& reason) {
  std::uint64_t unlogged = 0;
  {
    std::lock_guard lock(refusal_mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - refusal_window_start_ >= kRefusalLogWindow) {
      refusal_window_start_ = now;
      refusals_logged_ = 0;
    }
    if (refusals_logged_ >= kRefusalLogBurst) {
      ++refusals_unlogged_;
      return;
    }
    ++refusals_logged_;
    unlogged = refusals_unlogged_;
    refusals_unlogged_ = 0;
  }
  if (unlogged > 0) {
    spdlog::info("refused {} {} from {}: {} ({} more refused requests were not logged)", status,
                 path, peer, reason, unlogged);
  } else {
    spdlog::info("refused {} {} from {}: {}", status, path, peer, reason);
  }
}

void HttpServer::Impl::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) {
      return;
    }
    if (!ec) {
      beast::error_code peer_ec;
      const auto remote = socket.remote_endpoint(peer_ec);
      const std::string address = peer_ec ? std::string("unknown") : remote.address().to_string();
      std::string peer = peer_ec ? address : address + ":" + std::to_string(remote.port());
      std::uint64_t slot = 0;
      const auto admission = slots->admit(address, &slot);
      if (admission == ConnectionSlots::Admission::kRefusedPeer ||
          admission == ConnectionSlots::Admission::kRefusedFull) {
        const bool per_peer = admission == ConnectionSlots::Admission::kRefusedPeer;
        MetricsRegistry::global()
            .get("ktrail_http_connections_refused_total", MetricType::kCounter,
                 "Connections closed at once because the connection limits were reached",
                 per_peer ? "reason=\"per_peer\"" : "reason=\"total\"")
            .add();
        spdlog::debug("refusing connection from {}: {}", peer,
                     per_peer ? std::to_string(options.max_connections_per_peer) +
                                    " connections open from this address"
                              : std::to_string(options.max_connections) +
                                    " connections open, all with a request in progress");
        socket.close(peer_ec);
      } else {
        if (admission == ConnectionSlots::Admission::kShedOther) {
          MetricsRegistry::global()
              .get("ktrail_http_connections_shed_total", MetricType::kCounter,
                   "Waiting connections closed to make room for a new one at the connection limit")
              .add();
        }
        connections.fetch_add(1);
        socket.set_option(tcp::no_delay(true), peer_ec);
        if (auto ctx = current_tls()) {
          auto session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
              this, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *ctx), std::move(peer),
              slot);
          session->keep_tls_context(std::move(ctx));
          session->run();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(this, beast::tcp_stream(std::move(socket)),
                                                       std::move(peer), slot)
              ->run();
        }
      }
    } else {
      spdlog::warn("accept failed: {}", ec.message());
    }
    do_accept();
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(const HttpServerOptions& options,
                                                       std::vector<Route> routes) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->routes = std::move(routes);
  impl->register_latency_metrics();
  if (options.threads < 1) {
    return invalid_argument("the number of HTTP threads must be at least 1");
  }
  if (!options.tls.enabled() && !options.tls.key_file.empty()) {
    return invalid_argument("--tls-cert and --tls-key must be given together");
  }
  if (!options.tls.enabled() && !options.tls.client_ca_file.empty()) {
    return invalid_argument("--client-ca needs TLS: give --tls-cert and --tls-key too");
  }
  if (options.max_connections < 1 || options.max_connections_per_peer < 1) {
    return invalid_argument("--max-connections and --max-connections-per-peer must be positive");
  }
  impl->slots = std::make_unique<ConnectionSlots>(ConnectionSlots::Limits{
      .total = options.max_connections, .per_peer = options.max_connections_per_peer});
  impl->client_ca_required = !options.tls.client_ca_file.empty();
  impl->token_required = !options.token_file.empty();
  KTRAIL_RETURN_IF_ERROR(impl->load_credentials());
  beast::error_code ec;
  const auto address = net::ip::make_address(options.host, ec);
  if (ec) {
    return invalid_argument("bad listen address '" + options.host + "': " + ec.message());
  }
  const tcp::endpoint endpoint(address, options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    impl->acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return io_error("cannot listen on " + options.host + ":" + std::to_string(options.port) + ": " +
                    ec.message());
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->do_accept();
  for (int i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
}

std::uint16_t HttpServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

std::string HttpServer::local_address() const {
  beast::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(ep.port());
}

bool HttpServer::tls() const { return impl_->options.tls.enabled(); }

std::size_t HttpServer::open_connections() const { return impl_->connections.load(); }

Status HttpServer::reload() { return impl_->load_credentials(); }

Status HttpServer::Impl::load_credentials() {
  std::shared_ptr<net::ssl::context> ctx;
  if (options.tls.enabled()) {
    auto made = make_server_tls_context(options.tls);
    if (!made) {
      return made.status();
    }
    ctx = std::move(*made);
  }
  std::shared_ptr<const TokenAuthenticator> tokens;
  if (token_required) {
    auto loaded = TokenAuthenticator::from_file(options.token_file);
    if (!loaded) {
      return loaded.status();
    }
    tokens = std::make_shared<const TokenAuthenticator>(std::move(*loaded));
  }
  std::shared_ptr<const ClientClusterMap> cluster_map;
  if (!options.client_cluster_map.empty()) {
    auto loaded = ClientClusterMap::from_file(options.client_cluster_map);
    if (!loaded) {
      return loaded.status();
    }
    cluster_map = std::make_shared<const ClientClusterMap>(std::move(*loaded));
  }
  std::lock_guard lock(credentials_mutex_);
  tls_ = std::move(ctx);
  tokens_ = std::move(tokens);
  cluster_map_ = std::move(cluster_map);
  return Status::ok();
}

std::shared_ptr<const ClientClusterMap> HttpServer::Impl::current_cluster_map() const {
  std::lock_guard lock(credentials_mutex_);
  return cluster_map_;
}

std::shared_ptr<net::ssl::context> HttpServer::Impl::current_tls() const {
  std::lock_guard lock(credentials_mutex_);
  return tls_;
}

std::shared_ptr<const TokenAuthenticator> HttpServer::Impl::current_tokens() const {
  std::lock_guard lock(credentials_mutex_);
  return tokens_;
}

void HttpServer::stop_accepting() {
  impl_->draining = true;
  // Closing the acceptor from its own executor avoids racing with a running accept handler.
  net::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
}

bool HttpServer::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->idle_mutex);
  return impl_->idle_cv.wait_for(lock, timeout, [&] { return impl_->in_flight == 0; });
}

void HttpServer::stop() {
  if (impl_->threads.empty()) {
    return;
  }
  impl_->draining = true;
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    t.join();
  }
  impl_->threads.clear();
  impl_->close_replies();
}

void HttpServer::Impl::hold_awaiting(std::shared_ptr<void> session) {
  std::lock_guard lock(awaiting_mutex_);
  const void* key = session.get();
  awaiting_.emplace(key, std::move(session));
}

std::shared_ptr<void> HttpServer::Impl::take_awaiting(const void* session) {
  std::lock_guard lock(awaiting_mutex_);
  auto it = awaiting_.find(session);
  if (it == awaiting_.end()) {
    return nullptr;
  }
  auto held = std::move(it->second);
  awaiting_.erase(it);
  return held;
}

void HttpServer::Impl::close_replies() {
  {
    std::lock_guard lock(reply_gate->mutex);
    reply_gate->open = false;
  }
  std::unordered_map<const void*, std::shared_ptr<void>> ending;
  {
    std::lock_guard lock(awaiting_mutex_);
    ending.swap(awaiting_);
  }
  ending.clear();  // their connections close unanswered, as on any stop
}

Status parse_listen_address(const std::string& text, std::string* host, std::uint16_t* port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return invalid_argument("listen address '" + text + "' is not HOST:PORT");
  }
  std::string h = text.substr(0, colon);
  const std::string p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  if (h.empty()) {
    h = "0.0.0.0";
  }
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(p) > 65535) {
    return invalid_argument("listen address '" + text + "' has a bad port");
  }
  *host = h;
  *port = static_cast<std::uint16_t>(std::stoul(p));
  return Status::ok();
}

}  // namespace ktrail::ingest
