// Kafka mode throughput against a real broker, compared with the embedded path in the same run.
//
//   scripts/kafka.sh up && build/release/bench/kafka_bench [EVENTS] [BATCH]
//   (broker: $KTRAIL_KAFKA_BROKERS, default 127.0.0.1:9092)
//
// Measures, over the same pre-decoded Metadata-level audit events (bench/generator.h):
//   embedded  decode each EventList body and Store::write_batch it: the embedded path from the
//             webhook body to the store, without HTTP;
//   ingest    the ingest role alone: KafkaProducer, batches submitted with up to 64 in flight,
//             until every delivery report arrived (acks=all, idempotent, lz4);
//   process   the process role alone: a consumer group member decoding the topic and writing
//             its shard, until every message is written and committed;
//   both      the two at once in one process (as --role all): the consumer joins the group
//             first (a running server is a member before traffic arrives), then the clock runs
//             from the first submit until every event is stored and committed.
// Prints, for each: events/s, the ratio against embedded, this process's CPU (user + system,
// all threads, getrusage) per event, the broker's CPU per event when $KTRAIL_KAFKA_BROKER_PID
// names it (scripts/kafka.sh status prints it), and the load average before and after: the
// machine may be shared, so compare ratios within one run.
//
// Knobs (environment): KTRAIL_KAFKA_COMPRESSION (producer codec, default lz4),
// KTRAIL_KAFKA_LINGER_MS (default 5), KTRAIL_KAFKA_BATCH (messages the consumer hands to its
// store thread at once), KTRAIL_KAFKA_GROUP (messages per store transaction),
// KTRAIL_KAFKA_PRODUCER_CONF / KTRAIL_KAFKA_CONSUMER_CONF ("key=value,key=value" librdkafka
// settings applied last).
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "app/kafka_store_writer.h"
#include "bench/generator.h"
#include "core/audit_json.h"
#include "queue/kafka_consumer.h"
#include "queue/kafka_producer.h"
#include "storage/store.h"

namespace ktrail::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

std::size_t env_size(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

// "k=v,k=v" from the environment variable `name`, as librdkafka settings.
std::map<std::string, std::string> env_settings(const char* name) {
  std::map<std::string, std::string> out;
  const char* v = std::getenv(name);
  std::istringstream in(v != nullptr ? v : "");
  for (std::string item; std::getline(in, item, ',');) {
    const auto eq = item.find('=');
    if (eq != std::string::npos) {
      out[item.substr(0, eq)] = item.substr(eq + 1);
    }
  }
  return out;
}

// CPU seconds (user + system) of this process, all threads.
double own_cpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds of process `pid` (the broker) from /proc, or -1 when unknown.
double pid_cpu(long pid) {
  if (pid <= 0) {
    return -1;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return -1;
  }
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state; utime 14, stime 15
    if (i == 14 || i == 15) {
      ticks += std::strtod(field.c_str(), nullptr);
    }
    if (i == 15) {
      break;
    }
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double load_average() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

// One mode's figures: rate, CPU per event (µs) of this process and of the broker, load.
struct Measure {
  double rate = 0;
  double cpu_us = 0;
  double broker_us = -1;
  double load_before = 0;
  double load_after = 0;
  std::int64_t transactions = -1;
};

struct CpuMark {
  long broker_pid;
  double own;
  double broker;
  double load;
  explicit CpuMark(long pid)
      : broker_pid(pid), own(own_cpu()), broker(pid_cpu(pid)), load(load_average()) {}
  Measure finish(std::size_t events, double seconds) const {
    Measure m;
    const double n = static_cast<double>(events);
    m.rate = n / seconds;
    m.cpu_us = (own_cpu() - own) * 1e6 / n;
    const double b = pid_cpu(broker_pid);
    m.broker_us = (b >= 0 && broker >= 0) ? (b - broker) * 1e6 / n : -1;
    m.load_before = load;
    m.load_after = load_average();
    return m;
  }
};

// The EventList bodies of `batches`, as kube-apiserver would POST them.
std::vector<std::string> make_bodies(const std::vector<Batch>& batches) {
  std::vector<std::string> bodies;
  for (const Batch& b : batches) {
    std::string body = R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[)";
    for (std::size_t i = 0; i < b.audit.size(); ++i) {
      body += (i ? "," : "") + b.audit[i].json;
    }
    bodies.push_back(body + "]}");
  }
  return bodies;
}

std::vector<Batch> make_batches(std::size_t events, std::size_t per_batch) {
  AuditGenerator gen;
  std::vector<Batch> batches;
  DecodedAudit decoded;
  while (decoded.events.size() < events) {
    decode_audit_line(gen.next_line(), &decoded);
  }
  for (std::size_t i = 0; i < decoded.events.size(); i += per_batch) {
    Batch b;
    for (std::size_t j = i; j < std::min(i + per_batch, decoded.events.size()); ++j) {
      b.audit.push_back(decoded.events[j]);
    }
    batches.push_back(std::move(b));
  }
  return batches;
}

std::unique_ptr<Store> open_store(const std::filesystem::path& path) {
  auto store = Store::open(path.string(), StoreOptions{});
  if (!store) {
    std::fprintf(stderr, "store: %s\n", store.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(*store);
}

// The embedded path from the webhook body on: decode the EventList, write the batch.
void run_embedded(const std::vector<std::string>& bodies, const std::filesystem::path& dir) {
  auto store = open_store(dir / "embedded.db");
  for (const std::string& body : bodies) {
    auto decoded = decode_audit_document(body);
    Batch b;
    b.audit = std::move(decoded->events);
    if (!store->write_batch(b).is_ok()) {
      std::fprintf(stderr, "embedded write failed\n");
      std::exit(1);
    }
  }
}

// Submits every batch with a bounded number in flight; returns when all are acknowledged.
void produce_all(kafka::KafkaProducer& producer, const std::vector<Batch>& batches) {
  std::mutex m;
  std::condition_variable cv;
  std::size_t in_flight = 0;
  std::size_t failed = 0;
  for (const Batch& b : batches) {
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return in_flight < 64; });
      ++in_flight;
    }
    for (;;) {
      const SubmitResult r = producer.submit(b, [&](const Status& s, const BatchOutcome&) {
        std::lock_guard lock(m);
        --in_flight;
        failed += s.is_ok() ? 0 : 1;
        cv.notify_all();
      });
      if (r == SubmitResult::kAccepted) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // full: back off like a client
    }
  }
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return in_flight == 0; });
  if (failed != 0) {
    std::fprintf(stderr, "%zu batches failed\n", failed);
    std::exit(1);
  }
}

kafka::KafkaOptions kafka_options(const std::string& brokers, const std::string& prefix) {
  kafka::KafkaOptions o;
  o.brokers = brokers;
  o.topic_prefix = prefix;
  o.partitions = 6;
  return o;
}

std::unique_ptr<kafka::KafkaProducer> make_producer(const kafka::KafkaOptions& o) {
  kafka::ProducerOptions options;
  options.kafka = o;
  if (const char* codec = std::getenv("KTRAIL_KAFKA_COMPRESSION")) {
    options.compression = codec;
  }
  options.linger = std::chrono::milliseconds(env_size("KTRAIL_KAFKA_LINGER_MS", 5));
  options.kafka.extra = env_settings("KTRAIL_KAFKA_PRODUCER_CONF");
  options.ack_timeout = std::chrono::seconds(60);
  auto p = kafka::KafkaProducer::create(options);
  if (!p || !(*p)->ready()) {
    std::fprintf(stderr, "producer: %s\n", p ? "broker not ready" : p.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(*p);
}

Result<KubeEvent> no_events(std::string_view) { return parse_error("no Events in this run"); }

// Consumes `messages` messages of the topics into a fresh shard; returns the elapsed seconds
// from `t0`, and the store transactions it took in `transactions`.
double consume_all(const kafka::KafkaOptions& o, const std::filesystem::path& shard,
                   std::int64_t messages, SteadyClock::time_point* t0,
                   const std::function<void()>& feed, std::int64_t* transactions) {
  auto store = open_store(shard);
  auto writer = app::KafkaStoreWriter::create(store.get(), nullptr, {});
  kafka::ConsumerOptions options;
  options.kafka = o;
  options.kafka.extra = env_settings("KTRAIL_KAFKA_CONSUMER_CONF");
  options.group_id = o.topic_prefix + "-" + shard.stem().string();
  options.max_batch_messages = env_size("KTRAIL_KAFKA_BATCH", options.max_batch_messages);
  options.max_group_messages = env_size("KTRAIL_KAFKA_GROUP", options.max_group_messages);
  options.max_queued_messages = options.max_group_messages;
  auto consumer = kafka::KafkaConsumer::create(options, writer->get(), no_events);
  if (!consumer) {
    std::fprintf(stderr, "consumer: %s\n", consumer.status().to_string().c_str());
    std::exit(1);
  }
  std::thread runner([&] { (void)(*consumer)->run(); });
  if (feed) {
    // As in a running server: the member has joined the group before traffic arrives.
    const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (!(*consumer)->ready() && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    *t0 = SteadyClock::now();
    std::thread feeding(feed);
    feeding.join();
  } else {
    *t0 = SteadyClock::now();
  }
  while ((*consumer)->committed_messages() < messages) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double elapsed = seconds_since(*t0);
  *transactions = (*consumer)->groups_written();
  (*consumer)->stop();
  runner.join();
  return elapsed;
}

}  // namespace
}  // namespace ktrail::bench

int main(int argc, char** argv) {
  using namespace ktrail;
  using namespace ktrail::bench;
  const std::size_t events = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200'000;
  const std::size_t per_batch = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 400;
  const char* env = std::getenv("KTRAIL_KAFKA_BROKERS");
  const std::string brokers = env != nullptr ? env : "127.0.0.1:9092";
  const auto dir = std::filesystem::temp_directory_path() /
                   ("ktrail-kafka-bench-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  const std::string run = std::to_string(std::random_device{}());

  const std::vector<Batch> batches = make_batches(events, per_batch);
  std::printf("events %zu, batches of %zu, Metadata level, broker %s\n", events, per_batch,
              brokers.c_str());

  const long broker_pid = static_cast<long>(env_size("KTRAIL_KAFKA_BROKER_PID", 0));
  const std::vector<std::string> bodies = make_bodies(batches);

  CpuMark m0(broker_pid);
  const auto t_embedded = SteadyClock::now();
  run_embedded(bodies, dir);
  const Measure embedded = m0.finish(events, seconds_since(t_embedded));

  // ingest alone
  const auto topics_a = kafka_options(brokers, "bench-" + run + "-a");
  auto producer = make_producer(topics_a);
  CpuMark m1(broker_pid);
  auto t0 = SteadyClock::now();
  produce_all(*producer, batches);
  const Measure ingest = m1.finish(events, seconds_since(t0));
  producer->shutdown(std::chrono::seconds(10));

  // process alone, over what the ingest run left in the topic
  SteadyClock::time_point t1;
  std::int64_t process_tx = 0;
  CpuMark m2(broker_pid);
  const double process_s = consume_all(
      topics_a, dir / "process.db", static_cast<std::int64_t>(events), &t1, nullptr, &process_tx);
  Measure process = m2.finish(events, process_s);
  process.transactions = process_tx;

  // both at once
  const auto topics_b = kafka_options(brokers, "bench-" + run + "-b");
  auto producer_b = make_producer(topics_b);
  SteadyClock::time_point t2;
  std::int64_t both_tx = 0;
  CpuMark m3(broker_pid);
  const double both_s = consume_all(
      topics_b, dir / "both.db", static_cast<std::int64_t>(events), &t2,
      [&] { produce_all(*producer_b, batches); }, &both_tx);
  Measure both = m3.finish(events, both_s);
  both.transactions = both_tx;
  producer_b->shutdown(std::chrono::seconds(10));

  std::printf("%-10s %10s %8s %10s %10s %11s %6s\n", "mode", "events/s", "vs emb.", "cpu us/ev",
              "broker us", "load", "tx");
  const auto row = [&](const char* name, const Measure& m) {
    char broker_text[32] = "-";
    if (m.broker_us >= 0) {
      std::snprintf(broker_text, sizeof broker_text, "%.1f", m.broker_us);
    }
    std::printf("%-10s %10.0f %8.2f %10.1f %10s %5.2f-%5.2f %6lld\n", name, m.rate,
                m.rate / embedded.rate, m.cpu_us, broker_text, m.load_before, m.load_after,
                static_cast<long long>(m.transactions));
  };
  row("embedded", embedded);
  row("ingest", ingest);
  row("process", process);
  row("both", both);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
