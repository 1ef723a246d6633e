// The shared state of one HttpServer, seen by its sessions (internal to ingest/).
#pragma once

#include <atomic>
#include <chrono>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/metrics.h"
#include "ingest/auth.h"
#include "ingest/cluster_auth.h"
#include "ingest/connection_slots.h"
#include "ingest/http_server.h"

namespace ktrail::ingest {

bool iequals(std::string_view a, std::string_view b);
// application/json, or any application/<x>+json, with parameters; an absent type counts as JSON.
bool is_json_type(std::string_view content_type);

struct HttpServer::Impl {
  HttpServerOptions options;
  std::vector<Route> routes;
  bool client_ca_required = false;
  bool token_required = false;

  // The credentials in force. reload() replaces them whole; a connection keeps the TLS context
  // it was accepted with, and every request is checked against the tokens current then.
  std::shared_ptr<boost::asio::ssl::context> current_tls() const;
  std::shared_ptr<const TokenAuthenticator> current_tokens() const;
  // Null without --client-cluster-map.
  std::shared_ptr<const ClientClusterMap> current_cluster_map() const;
  // Loads the TLS context and tokens from options' files; on success they are in force.
  Status load_credentials();

  std::atomic<bool> draining{false};
  std::atomic<std::size_t> connections{0};
  std::unique_ptr<ConnectionSlots> slots;
  std::mutex idle_mutex;
  std::condition_variable idle_cv;
  int in_flight = 0;  // guarded by idle_mutex

  // The way back from a handler's Responder, which may be called or destroyed on any thread at
  // any time, also after the server is gone. While `open` (under `mutex`), the server and its
  // io_context exist and the Responder may post to them; stop() closes it once its threads have
  // ended, and from then on a Responder touches nothing of the server.
  struct ReplyGate {
    std::mutex mutex;
    bool open = true;
  };
  const std::shared_ptr<ReplyGate> reply_gate = std::make_shared<ReplyGate>();
  // Sessions whose request is with a handler are owned here (a Responder names its session
  // only weakly), so that every session ends while the server it points to still exists.
  void hold_awaiting(std::shared_ptr<void> session);
  std::shared_ptr<void> take_awaiting(const void* session);
  // Closes the gate and ends the sessions still waiting for an answer (after the I/O threads).
  void close_replies();

  // Declared after the state above: destroying the context destroys the sessions, which
  // still touch that state.
  boost::asio::io_context ioc;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;

  // `cluster` gets the "/{cluster}" suffix of a route that takes one ("" without).
  const Route* find_route(const std::string& method, const std::string& path, bool* path_known,
                          std::string* cluster) const;
  void begin_request();
  void end_request();
  void count_response(unsigned status);
  void do_accept();

  // Time from a request's header to its answer written, per endpoint (`route` null: a request
  // that matched none, counted under path="other" so that probing clients add no series).
  void observe_latency(const Route* route, double seconds);
  // Logs a request refused with 401 or 403 (peer, path, reason; never a credential) at info,
  // at most kRefusalLogBurst lines per kRefusalLogWindow, saying how many were left out.
  void log_refusal(unsigned status, const std::string& peer, const std::string& path,
                   const std::string& reason);
  // Registers the latency histograms of `routes` (one block per family in /metrics).
  void register_latency_metrics();

 private:
  static constexpr int kRefusalLogBurst = 10;
  static constexpr std::chrono::seconds kRefusalLogWindow{10};
  std::vector<Histogram*> route_latency_;  // parallel to routes
  Histogram* other_latency_ = nullptr;
  std::mutex refusal_mutex_;
  std::chrono::steady_clock::time_point refusal_window_start_{};
  int refusals_logged_ = 0;
  std::uint64_t refusals_unlogged_ = 0;

  std::mutex awaiting_mutex_;
  std::unordered_map<const void*, std::shared_ptr<void>> awaiting_;

  mutable std::mutex credentials_mutex_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<const TokenAuthenticator> tokens_;
  std::shared_ptr<const ClientClusterMap> cluster_map_;
};

}  // namespace ktrail::ingest
