// The options of `ktrail serve`: one struct, one Boost.Program_options description. The same
// names work on the command line (`--listen 0.0.0.0:8443`) and in the `--config FILE` file
// (program_options config syntax: `listen = 0.0.0.0:8443`, one per line, `#` comments); the
// command line wins over the file. Modules add their options here (field + one line in
// add_serve_options), so `serve --help` and the config file stay complete.
#pragma once

#include <boost/program_options/options_description.hpp>
#include <cstddef>
#include <memory>
#include <string>

#include "app/commands.h"
#include "core/status.h"
#include "ingest/http_server.h"
#include "processors/audit_processors.h"
#include "queue/embedded_queue.h"
#include "storage/store.h"

namespace ktrail::app {

class DetectSource;  // app/detect_stage.h

struct ServeOptions {
  std::string config_file;
  std::string listen = "127.0.0.1:8080";
  std::string db = "./ktrail.db";
  std::string tls_cert;
  std::string tls_key;
  std::string client_ca;
  std::string token_file;
  std::string client_cluster_map;
  std::size_t max_body_bytes = 12u << 20;
  std::size_t queue_max_events = 20000;
  std::size_t queue_max_bytes = 256u << 20;
  int http_threads = 2;
  std::string read_timeout = "30s";
  std::string idle_timeout = "90s";
  std::string header_timeout = "10s";
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_peer = 64;
  std::string shutdown_timeout = "25s";
  std::string sync = "normal";  // SQLite durability: normal (survives kill -9) or full (power loss)
  std::string ready_file;
  std::string log_level = "info";
  std::string log_format = "text";  // text, or json: one object a line
  std::string rules;  // correlation rules file (docs/incidents.md); empty: the defaults
  AuditProcessingOptions processing;  // --policy, --max-event-bytes, --redact-secrets
  std::vector<std::string> detect_rules;  // --detect-rules (app/detect_stage.h)
  // The detection rules in force when they can be replaced (serve, on SIGHUP); when null, each
  // chain loads its own from detect_rules.
  std::shared_ptr<DetectSource> detect_source;
  // Kafka mode (docs/kafka.md); without kafka_brokers the embedded queue is used.
  std::string kafka_brokers;
  std::string role = "all";  // all, ingest, process
  std::string kafka_topic_prefix = "ktrail";
  int kafka_partitions = 6;
  std::string kafka_group = "ktrail-process";
  // A partition that receives nothing this long stops holding back its incidents.
  std::string kafka_idle_after = "10s";
  std::string ack_timeout = "10s";
  // Sealed segments (docs/store.md): off unless --seal-after is given.
  std::string seal_after;
  std::string partition = "1h";
  std::string retention;  // with --seal-after: sealed segments older than this are removed
};

// --seal-after and --partition (shared by serve and ingest).
void add_seal_options(boost::program_options::options_description& desc, ServeOptions* options);
// Sets the sealing fields of `store` from them; usage errors are kInvalidArgument.
Status apply_seal_options(const ServeOptions& options, StoreOptions* store);

void add_serve_options(boost::program_options::options_description& desc, ServeOptions* options);

enum class ParseOutcome { kRun, kHelpShown };

// Parses the command line and, if given, the --config file. Usage errors are kInvalidArgument.
Result<ParseOutcome> parse_serve_args(const Args& args, ServeOptions* options);

Result<ingest::HttpServerOptions> to_http_options(const ServeOptions& options);
QueueLimits to_queue_limits(const ServeOptions& options);

}  // namespace ktrail::app
