// The shared state of one HttpServer, seen by its sessions (internal to ingest/).
#pragma once

#include <atomic>
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
#include <vector>

#include "ingest/auth.h"
#include "ingest/http_server.h"

namespace ktrail::ingest {

bool iequals(std::string_view a, std::string_view b);
// application/json, or any application/<x>+json, with parameters; an absent type counts as JSON.
bool is_json_type(std::string_view content_type);

struct HttpServer::Impl {
  HttpServerOptions options;
  std::vector<Route> routes;
  std::shared_ptr<boost::asio::ssl::context> tls;
  bool client_ca_required = false;
  std::optional<TokenAuthenticator> tokens;

  std::atomic<bool> draining{false};
  std::atomic<std::size_t> connections{0};
  std::mutex idle_mutex;
  std::condition_variable idle_cv;
  int in_flight = 0;  // guarded by idle_mutex

  // Declared after the state above: destroying the context destroys the sessions, which
  // still touch that state.
  boost::asio::io_context ioc;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;

  const Route* find_route(const std::string& method, const std::string& path,
                          bool* path_known) const;
  void begin_request();
  void end_request();
  void count_response(unsigned status);
  void do_accept();
};

}  // namespace ktrail::ingest
