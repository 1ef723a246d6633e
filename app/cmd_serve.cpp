// `ktrail serve`: the webhook backend in embedded mode. HTTP(S) server -> embedded queue ->
// pipeline worker (processors, store). SIGTERM/SIGINT: stop accepting, drain the queue, answer
// in-flight requests, exit 0. SIGHUP: load the certificate, CA, token, --policy and
// --detect-rules files again (a file that fails to load keeps what is in force, and the failure
// is logged and counted).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "app/cli.h"
#include "app/commands.h"
#include "app/detect_stage.h"
#include "app/kafka_roles.h"
#include "app/logging.h"
#include "app/partition_restore.h"
#include "app/pipeline.h"
#include "app/policy_record.h"
#include "app/processor_chain.h"
#include "app/serve_options.h"
#include "app/shards.h"
#include "core/metrics.h"
#include "ingest/http_server.h"
#include "ingest/routes.h"
#include "storage/schema.h"
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

// SIGHUP: certificates and tokens are rotated by replacing their files.
void reload_credentials(ingest::HttpServer& server) {
  const Status s = server.reload();
  MetricsRegistry::global()
      .get("ktrail_credential_reloads_total", MetricType::kCounter,
           "Reloads of the TLS and token files on SIGHUP, by result",
           s.is_ok() ? "result=\"ok\"" : "result=\"failed\"")
      .add();
  if (s.is_ok()) {
    spdlog::info("SIGHUP: reloaded the TLS and token files");
  } else {
    spdlog::error("SIGHUP: reload failed, the previous credentials stay in force: {}", s.message());
  }
}

// SIGHUP: the audit policy is edited in place. A file that fails to load leaves the policy in force.
void reload_policy(const ServeOptions& options) {
  if (!options.processing.policy_source) {
    return;
  }
  std::vector<std::string> warnings;
  auto policy = load_compiled_policy(options.processing.policy_file, &warnings);
  MetricsRegistry::global()
      .get("ktrail_policy_reloads_total", MetricType::kCounter,
           "Reloads of the --policy file on SIGHUP, by result",
           policy ? "result=\"ok\"" : "result=\"failed\"")
      .add();
  if (!policy) {
    spdlog::error("SIGHUP: the audit policy {} did not load, the previous policy stays in force: {}",
                  options.processing.policy_file, policy.status().message());
    return;
  }
  for (const auto& w : warnings) {
    spdlog::warn("{}", w);
  }
  options.processing.policy_source->replace(std::move(*policy));
  spdlog::info("SIGHUP: reloaded the audit policy {}", options.processing.policy_file);
}

// SIGHUP: the detection rules files are edited in place. Rules that fail to load (any error in
// any file) leave the rules in force. Detection turned off at start stays off.
void reload_detect_rules(const ServeOptions& options) {
  if (!options.detect_source) {
    return;
  }
  auto engine = load_detect_engine(options.detect_rules);
  const bool ok = engine && *engine;
  MetricsRegistry::global()
      .get("ktrail_detect_rules_reloads_total", MetricType::kCounter,
           "Reloads of the --detect-rules files on SIGHUP, by result",
           ok ? "result=\"ok\"" : "result=\"failed\"")
      .add();
  if (!ok) {
    spdlog::error("SIGHUP: the detection rules did not load, the rules in force stay: {}",
                  engine ? "no rules" : engine.status().message());
    return;
  }
  options.detect_source->replace(std::move(*engine));
  spdlog::info("SIGHUP: reloaded the detection rules ({} rules)",
               options.detect_source->current()->rules().size());
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
  if (Status s = init_logging(options.log_level, options.log_format); !s.is_ok()) {
    return fail(s, kExitUsage);
  }

  // Signals are taken by sigwait() below only: block them before any thread starts, so every
  // thread inherits the mask.
  // SIGTERM and SIGINT stop the server; SIGHUP reloads its certificate, CA, token and policy files.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigset_t signals = stop_signals;
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto role = parse_kafka_role(options.role);
  if (!role) {
    return fail(role.status(), kExitUsage);
  }
  const bool kafka = !options.kafka_brokers.empty();
  if (!kafka && *role != KafkaRole::kAll) {
    return fail(invalid_argument("--role " + options.role + " needs --kafka-brokers"), kExitUsage);
  }
  auto ack_timeout = parse_duration(options.ack_timeout);
  if (!ack_timeout || *ack_timeout <= 0) {
    return fail(invalid_argument("--ack-timeout '" + options.ack_timeout +
                                 "' is not a positive duration (e.g. 10s)"),
                kExitUsage);
  }

  auto idle_after = parse_duration(options.kafka_idle_after);
  if (!idle_after || *idle_after <= 0) {
    return fail(invalid_argument("--kafka-idle-after '" + options.kafka_idle_after +
                                 "' is not a positive duration (e.g. 10s)"),
                kExitUsage);
  }

  // The ingest role stores nothing: it opens no store.
  std::unique_ptr<Store> store;
  if (!kafka || *role != KafkaRole::kIngest) {
    StoreOptions store_options;
    store_options.sync = options.sync == "full" ? SyncMode::kFull : SyncMode::kNormal;
    if (Status s = check_store_directory(options.db); !s.is_ok()) {
      return fail(s, kExitFailure);
    }
    if (Status s = apply_seal_options(options, &store_options); !s.is_ok()) {
      return fail(s, kExitUsage);
    }
    auto opened = Store::open(options.db, store_options);
    if (!opened) {
      return fail(opened.status(), kExitFailure);
    }
    store = std::move(*opened);
    std::error_code size_error;
    std::uintmax_t bytes = 0;
    for (const char* suffix : {"", "-wal"}) {
      const auto size = std::filesystem::file_size(options.db + suffix, size_error);
      bytes += size_error ? 0 : size;
    }
    spdlog::info("store {}: schema version {}, {:.1f} MB on disk", options.db,
                 storage::schema_version(), static_cast<double>(bytes) / (1 << 20));
  }
  // A bad --policy or --rules file is the user's to fix: a usage error, like a bad option.
  auto config_failure = [](const Status& s) {
    const ErrorCode code = s.code();
    return fail(s, code == ErrorCode::kInvalidArgument || code == ErrorCode::kParseError ||
                           code == ErrorCode::kNotFound
                       ? kExitUsage
                       : kExitFailure);
  };
  // The policy in force is shared by every chain (one per Kafka partition) and replaced on SIGHUP.
  if (!options.processing.policy_file.empty()) {
    std::vector<std::string> warnings;
    auto policy = load_compiled_policy(options.processing.policy_file, &warnings);
    if (!policy) {
      return config_failure(policy.status());
    }
    for (const auto& w : warnings) {
      spdlog::warn("{}", w);
    }
    options.processing.policy_source = std::make_shared<PolicySource>(std::move(*policy));
  }
  // So are the detection rules, when detection is on.
  {
    auto engine = load_detect_engine(options.detect_rules);
    if (!engine) {
      return config_failure(engine.status());
    }
    if (*engine) {
      options.detect_source = std::make_shared<DetectSource>(std::move(*engine));
    }
  }
  auto chain = make_processor_chain(options);
  if (!chain) {
    return config_failure(chain.status());
  }
  if (store) {
    if (Status s = record_processing_policy(*store, options.processing, "ktrail serve");
        !s.is_ok()) {
      return fail(s, kExitFailure);
    }
  }
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<KafkaRoles> kafka_roles;
  BatchSink* sink = nullptr;
  if (kafka) {
    KafkaRolesOptions kafka_options;
    kafka_options.role = *role;
    kafka_options.kafka.brokers = options.kafka_brokers;
    kafka_options.kafka.topic_prefix = options.kafka_topic_prefix;
    kafka_options.kafka.partitions = options.kafka_partitions;
    kafka_options.ack_timeout = std::chrono::milliseconds(*ack_timeout / 1000);
    kafka_options.group_id = options.kafka_group;
    kafka_options.idle_after = std::chrono::milliseconds(*idle_after / 1000);
    kafka_options.store = store.get();
    kafka_options.peer_dir = std::filesystem::path(options.db).parent_path().string();
    if (kafka_options.peer_dir.empty()) {
      kafka_options.peer_dir = ".";
    }
    // Each partition gets its own chain, so correlation state never mixes partitions; a newly
    // owned partition's correlator is rebuilt from this shard and the peers' shards.
    kafka_options.chain = make_partition_chain_factory({options, kafka_options.peer_dir});
    auto started = KafkaRoles::start(std::move(kafka_options));
    if (!started) {
      return fail(started.status(), kExitFailure);
    }
    kafka_roles = std::move(*started);
    sink = kafka_roles->sink();
    spdlog::info("kafka mode: role {}, brokers {}, topics {}.audit/.events", options.role,
                 options.kafka_brokers, options.kafka_topic_prefix);
  } else {
    const auto restore_began = std::chrono::steady_clock::now();
    RestoreSummary restored;
    if (Status s = restore_processor_state(*chain, *store, options, &restored); !s.is_ok()) {
      return fail(s, kExitFailure);
    }
    spdlog::info(
        "restored from the store: {} open incidents re-seeded, {} recent items replayed into "
        "correlation, {} incidents updated, in {} ms",
        restored.open_incidents, restored.replayed, restored.updated,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                              restore_began)
            .count());
    Store* writer = store.get();
    PipelineOptions pipeline_options;
    pipeline_options.queue = to_queue_limits(options);
    pipeline_options.ack_timeout = std::chrono::milliseconds(*ack_timeout / 1000);
    pipeline = std::make_unique<Pipeline>(
        pipeline_options, std::move(*chain),
        [writer](const std::vector<const Batch*>& group) { return writer->write_batches(group); });
    sink = pipeline.get();
  }

  std::atomic<bool> draining{false};
  ingest::WebhookRoutesOptions routes_options;
  routes_options.sink = sink;
  routes_options.ready = [&draining, &kafka_roles] {
    return !draining.load() && (!kafka_roles || kafka_roles->ready());
  };
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
  if (!options.ready_file.empty()) {
    if (Status s = write_ready_file(options.ready_file, address); !s.is_ok()) {
      (*server)->stop();
      return fail(s, kExitFailure);
    }
  }
  // Logged last: once this line shows, the server answers and the ready file exists.
  spdlog::info("listening on {} ({}), store {}", address, (*server)->tls() ? "https" : "http",
               options.db);

  int received = 0;
  while (sigwait(&signals, &received) == 0 && received == SIGHUP) {
    reload_credentials(**server);
    reload_policy(options);
    reload_detect_rules(options);
  }
  spdlog::info("{}: stopping: no new connections, draining the queue", strsignal(received));
  // A second signal means "now": exit without waiting for the drain (acknowledged batches are
  // committed already; unanswered ones will be resent by the apiserver). SIGHUP stays blocked.
  std::thread([stop_signals] {
    int again = 0;
    sigwait(&stop_signals, &again);
    spdlog::warn("{} again: exiting without draining", strsignal(again));
    std::_Exit(kExitFailure);
  }).detach();
  draining = true;
  (*server)->stop_accepting();
  auto shutdown_timeout = parse_duration(options.shutdown_timeout);
  const auto wait = std::chrono::milliseconds(shutdown_timeout ? *shutdown_timeout / 1000 : 25000);
  if (pipeline) {
    // Behind the batches still queued: correlation releases its reorder window, so a stopped
    // server's incidents are those a replay of the same input gives.
    Batch last;
    last.origin = "shutdown";
    last.end_of_input = true;
    pipeline->submit_wait(std::move(last), [](const Status& s, const BatchOutcome&) {
      if (!s.is_ok()) {
        spdlog::warn("writing the incidents of the reorder window: {}", s.to_string());
      }
    });
    pipeline->close_and_drain();
  }
  if (kafka_roles) {
    kafka_roles->stop(wait);  // flush deliveries; finish and commit the in-flight batch
  }
  if (!(*server)->wait_idle(wait)) {
    spdlog::warn("requests still in flight after {}; closing them", options.shutdown_timeout);
  }
  (*server)->stop();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace ktrail::app
