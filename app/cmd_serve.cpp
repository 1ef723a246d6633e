// `ktrail serve`: the webhook backend in embedded mode. HTTP(S) server -> embedded queue ->
// pipeline worker (processors, store). SIGTERM/SIGINT: stop accepting, drain the queue, answer
// in-flight requests, exit 0.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/logging.h"
#include "app/pipeline.h"
#include "app/processor_chain.h"
#include "app/serve_options.h"
#include "ingest/http_server.h"
#include "ingest/routes.h"
#include "storage/store.h"

namespace ktrail::app {
namespace {

int fail(const Status& status, int code) {
  std::fprintf(stderr, "ktrail: %s\n", status.message().c_str());
  return code;
}

// Written to a temporary name then renamed, so a reader never sees a partial address.
Status write_ready_file(const std::string& path, const std::string& address) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << address << "\n";
    if (!out) {
      return io_error("cannot write --ready-file " + path);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return io_error("cannot write --ready-file " + path + ": " + ec.message());
  }
  return Status::ok();
}

}  // namespace

int cmd_serve(const Args& args) {
  ServeOptions options;
  auto parsed = parse_serve_args(args, &options);
  if (!parsed) {
    return fail(parsed.status(), kExitUsage);
  }
  if (*parsed == ParseOutcome::kHelpShown) {
    return kExitOk;
  }
  auto http = to_http_options(options);
  if (!http) {
    return fail(http.status(), kExitUsage);
  }
  if (options.sync != "normal" && options.sync != "full") {
    return fail(invalid_argument("--sync must be normal or full"), kExitUsage);
  }
  if (Status s = init_logging(options.log_level); !s.is_ok()) {
    return fail(s, kExitUsage);
  }

  // Signals are taken by sigwait() below only: block them before any thread starts, so every
  // thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  StoreOptions store_options;
  store_options.sync = options.sync == "full" ? SyncMode::kFull : SyncMode::kNormal;
  auto store = Store::open(options.db, store_options);
  if (!store) {
    return fail(store.status(), kExitFailure);
  }
  auto chain = make_processor_chain(options);
  if (!chain) {
    // A bad --rules file is the user's to fix: a usage error, like a bad option.
    const ErrorCode code = chain.status().code();
    return fail(chain.status(), code == ErrorCode::kInvalidArgument ||
                                        code == ErrorCode::kParseError ||
                                        code == ErrorCode::kNotFound
                                    ? kExitUsage
                                    : kExitFailure);
  }
  if (Status s = restore_processor_state(*chain, **store, options); !s.is_ok()) {
    return fail(s, kExitFailure);
  }
  Store* writer = store->get();
  PipelineOptions pipeline_options;
  pipeline_options.queue = to_queue_limits(options);
  Pipeline pipeline(pipeline_options, std::move(*chain),
                    [writer](const Batch& batch) { return writer->write_batch(batch); });

  std::atomic<bool> draining{false};
  ingest::WebhookRoutesOptions routes_options;
  routes_options.sink = &pipeline;
  routes_options.ready = [&draining] { return !draining.load(); };
  auto routes = ingest::webhook_routes(routes_options);
  if (!routes) {
    return fail(routes.status(), kExitFailure);
  }
  auto server = ingest::HttpServer::create(*http, std::move(*routes));
  if (!server) {
    return fail(server.status(), kExitFailure);
  }
  if (!(*server)->tls() && !options.token_file.empty()) {
    spdlog::warn("--token-file without TLS: kube-apiserver sends credentials only over https");
  }
  (*server)->start();
  const std::string address = (*server)->local_address();
  spdlog::info("listening on {} ({}), store {}", address, (*server)->tls() ? "https" : "http",
               options.db);
  if (!options.ready_file.empty()) {
    if (Status s = write_ready_file(options.ready_file, address); !s.is_ok()) {
      (*server)->stop();
      return fail(s, kExitFailure);
    }
  }

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("{}: stopping: no new connections, draining the queue", strsignal(received));
  draining = true;
  (*server)->stop_accepting();
  pipeline.close_and_drain();
  auto shutdown_timeout = parse_duration(options.shutdown_timeout);
  const auto wait = std::chrono::milliseconds(shutdown_timeout ? *shutdown_timeout / 1000 : 25000);
  if (!(*server)->wait_idle(wait)) {
    spdlog::warn("requests still in flight after {}; closing them", options.shutdown_timeout);
  }
  (*server)->stop();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace ktrail::app
