#include "app/serve_options.h"

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "app/detect_stage.h"
#include "app/processing_flags.h"
#include "app/query_args.h"
#include "core/time.h"

namespace ktrail::app {

namespace po = boost::program_options;

void add_serve_options(po::options_description& desc, ServeOptions* o) {
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("config", po::value(&o->config_file), "read options from FILE (name = value lines)")
    ("listen", po::value(&o->listen)->default_value(o->listen),
     "address to listen on, HOST:PORT (port 0: any free port)")
    ("db", po::value(&o->db)->default_value(o->db), "SQLite store file")
    ("tls-cert", po::value(&o->tls_cert), "server certificate chain (PEM): serve HTTPS")
    ("tls-key", po::value(&o->tls_key), "server private key (PEM)")
    ("client-ca", po::value(&o->client_ca),
     "CA bundle (PEM): require client certificates signed by it on the ingest endpoints")
    ("token-file", po::value(&o->token_file),
     "file of bearer tokens, one per line (TOKEN or TOKEN,cluster): require one on the ingest "
     "endpoints")
    ("client-cluster-map", po::value(&o->client_cluster_map),
     "file of IDENTITY,cluster lines: the cluster of a client certificate's CN or SAN "
     "(without it, the CN itself; docs/clusters.md)")
    ("max-body-bytes", po::value(&o->max_body_bytes)->default_value(o->max_body_bytes),
     "largest request body accepted (413 above)")
    ("queue-max-events", po::value(&o->queue_max_events)->default_value(o->queue_max_events),
     "events the embedded queue holds before answering 429")
    ("queue-max-bytes", po::value(&o->queue_max_bytes)->default_value(o->queue_max_bytes),
     "bytes of events the embedded queue holds before answering 429")
    ("http-threads", po::value(&o->http_threads)->default_value(o->http_threads),
     "HTTP I/O threads (they also decode the JSON)")
    ("read-timeout", po::value(&o->read_timeout)->default_value(o->read_timeout),
     "time allowed to receive one request body")
    ("idle-timeout", po::value(&o->idle_timeout)->default_value(o->idle_timeout),
     "idle keep-alive connections are closed after this")
    ("header-timeout", po::value(&o->header_timeout)->default_value(o->header_timeout),
     "time allowed for a request header, from its first byte (from the connection's start for a "
     "new one)")
    ("max-connections", po::value(&o->max_connections)->default_value(o->max_connections),
     "open connections at most; at the limit the one waiting longest for a request is closed")
    ("max-connections-per-peer",
     po::value(&o->max_connections_per_peer)->default_value(o->max_connections_per_peer),
     "open connections from one client address at most; more are refused")
    ("shutdown-timeout", po::value(&o->shutdown_timeout)->default_value(o->shutdown_timeout),
     "on SIGTERM, time allowed to answer in-flight requests")
    ("sync", po::value(&o->sync)->default_value(o->sync),
     "SQLite durability: normal (survives a process crash) or full (also power loss)")
    ("ready-file", po::value(&o->ready_file),
     "write the bound address to FILE once serving")
    ("rules", po::value(&o->rules), "incident correlation rules file (YAML, docs/incidents.md)")
    ("log-level", po::value(&o->log_level)->default_value(o->log_level),
     "trace, debug, info, warn, error")
    ("log-format", po::value(&o->log_format)->default_value(o->log_format),
     "text, or json (one object a line, for log shippers)")
    ("kafka-brokers", po::value(&o->kafka_brokers),
     "Kafka bootstrap servers (host:port,...): run as a Kafka role instead of embedded")
    ("role", po::value(&o->role)->default_value(o->role),
     "with --kafka-brokers: ingest (webhook -> Kafka), process (Kafka -> store) or all")
    ("kafka-topic-prefix", po::value(&o->kafka_topic_prefix)->default_value(o->kafka_topic_prefix),
     "topics PREFIX.audit and PREFIX.events")
    ("kafka-partitions", po::value(&o->kafka_partitions)->default_value(o->kafka_partitions),
     "partitions of the topics when ktrail creates them")
    ("kafka-group", po::value(&o->kafka_group)->default_value(o->kafka_group),
     "consumer group of the process role")
    ("kafka-idle-after", po::value(&o->kafka_idle_after)->default_value(o->kafka_idle_after),
     "process role: a partition that receives nothing this long follows the others' event "
     "time; when all are quiet, correlation releases what it holds back")
    ("ack-timeout", po::value(&o->ack_timeout)->default_value(o->ack_timeout),
     "answer 503 when a batch is not committed to the store (or, in the ingest role, "
     "confirmed by Kafka) within this time");
  // clang-format on
  add_processing_flags(&desc, &o->processing);
  add_detect_flags(&desc, &o->detect_rules);
  add_seal_options(desc, o);
}

void add_seal_options(po::options_description& desc, ServeOptions* o) {
  // clang-format off
  desc.add_options()
    ("seal-after", po::value(&o->seal_after),
     "seal a partition into a columnar segment once the newest event is this far past its end "
     "(e.g. 2h; off by default)")
    ("partition", po::value(&o->partition)->default_value(o->partition),
     "time partition of sealed segments (e.g. 1h, 1d)")
    ("retention", po::value(&o->retention),
     "with --seal-after: remove whole sealed segments whose events are all older than this "
     "before the newest event (e.g. 365d); unsealed events are never removed");
  // clang-format on
}

Status apply_seal_options(const ServeOptions& o, StoreOptions* store) {
  auto partition = parse_duration(o.partition);
  if (!partition || *partition <= 0) {
    return invalid_argument("--partition '" + o.partition + "' is not a positive duration");
  }
  store->partition = *partition;
  if (!o.seal_after.empty()) {
    auto after = parse_duration(o.seal_after);
    if (!after || *after <= 0) {
      return invalid_argument("--seal-after '" + o.seal_after + "' is not a positive duration");
    }
    store->seal_after = *after;
  }
  if (!o.retention.empty()) {
    auto retention = parse_duration(o.retention);
    if (!retention || *retention <= 0) {
      return invalid_argument("--retention '" + o.retention + "' is not a positive duration");
    }
    if (o.seal_after.empty()) {
      return invalid_argument("--retention removes sealed segments: give --seal-after too");
    }
    store->retention = *retention;
  }
  return Status::ok();
}

Result<ParseOutcome> parse_serve_args(const Args& args, ServeOptions* options) {
  po::options_description desc("ktrail serve options");
  add_serve_options(desc, options);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help") != 0u) {
      std::cout << "usage: ktrail serve [options]\n\n" << desc << "\n";
      return ParseOutcome::kHelpShown;
    }
    if (vm.count("config") != 0u) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) {
        return invalid_argument("cannot read --config " + path);
      }
      // Values already given on the command line are kept: po::store does not overwrite.
      po::store(po::parse_config_file(file, desc), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return invalid_argument(explain_option_error(e, desc));
  }
  return ParseOutcome::kRun;
}

namespace {

Result<std::chrono::milliseconds> duration_option(const std::string& name,
                                                  const std::string& text) {
  auto parsed = parse_duration(text);
  if (!parsed || *parsed <= 0) {
    return invalid_argument("--" + name + " '" + text + "' is not a positive duration (e.g. 30s)");
  }
  return std::chrono::milliseconds(*parsed / 1000);
}

}  // namespace

Result<ingest::HttpServerOptions> to_http_options(const ServeOptions& o) {
  ingest::HttpServerOptions h;
  KTRAIL_RETURN_IF_ERROR(ingest::parse_listen_address(o.listen, &h.host, &h.port));
  h.tls.cert_file = o.tls_cert;
  h.tls.key_file = o.tls_key;
  h.tls.client_ca_file = o.client_ca;
  h.token_file = o.token_file;
  h.client_cluster_map = o.client_cluster_map;
  if (o.max_body_bytes == 0) {
    return invalid_argument("--max-body-bytes must be positive");
  }
  h.max_body_bytes = o.max_body_bytes;
  if (o.http_threads < 1 || o.http_threads > 64) {
    return invalid_argument("--http-threads must be between 1 and 64");
  }
  h.threads = o.http_threads;
  auto read = duration_option("read-timeout", o.read_timeout);
  auto idle = duration_option("idle-timeout", o.idle_timeout);
  if (!read) {
    return read.status();
  }
  if (!idle) {
    return idle.status();
  }
  h.read_timeout = *read;
  h.idle_timeout = *idle;
  auto header = duration_option("header-timeout", o.header_timeout);
  if (!header) {
    return header.status();
  }
  h.header_timeout = *header;
  if (o.max_connections < 1 || o.max_connections_per_peer < 1) {
    return invalid_argument("--max-connections and --max-connections-per-peer must be positive");
  }
  h.max_connections = o.max_connections;
  h.max_connections_per_peer = o.max_connections_per_peer;
  return h;
}

QueueLimits to_queue_limits(const ServeOptions& o) {
  return {.max_events = o.queue_max_events, .max_bytes = o.queue_max_bytes};
}

}  // namespace ktrail::app
