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
//   both      the two at once in one process (as --role all), until every event is stored.
// Prints events/s for each and the ratio against embedded.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
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
double run_embedded(const std::vector<std::string>& bodies, const std::filesystem::path& dir,
                    std::size_t events) {
  auto store = open_store(dir / "embedded.db");
  const auto t0 = SteadyClock::now();
  for (const std::string& body : bodies) {
    auto decoded = decode_audit_document(body);
    Batch b;
    b.audit = std::move(decoded->events);
    if (!store->write_batch(b).is_ok()) {
      std::fprintf(stderr, "embedded write failed\n");
      std::exit(1);
    }
  }
  return static_cast<double>(events) / seconds_since(t0);
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
// from `t0`.
double consume_all(const kafka::KafkaOptions& o, const std::filesystem::path& shard,
                   std::int64_t messages, SteadyClock::time_point* t0,
                   std::thread* producer_thread) {
  auto store = open_store(shard);
  auto writer = app::KafkaStoreWriter::create(store.get(), nullptr, {});
  kafka::ConsumerOptions options;
  options.kafka = o;
  options.group_id = o.topic_prefix + "-" + shard.stem().string();
  options.max_batch_messages = 5000;
  auto consumer = kafka::KafkaConsumer::create(options, writer->get(), no_events);
  if (!consumer) {
    std::fprintf(stderr, "consumer: %s\n", consumer.status().to_string().c_str());
    std::exit(1);
  }
  *t0 = SteadyClock::now();
  std::thread runner([&] { (void)(*consumer)->run(); });
  if (producer_thread != nullptr) {
    producer_thread->join();
  }
  while ((*consumer)->committed_messages() < messages) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double elapsed = seconds_since(*t0);
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

  const double embedded = run_embedded(make_bodies(batches), dir, events);

  // ingest alone
  const auto topics_a = kafka_options(brokers, "bench-" + run + "-a");
  auto producer = make_producer(topics_a);
  auto t0 = SteadyClock::now();
  produce_all(*producer, batches);
  const double ingest = static_cast<double>(events) / seconds_since(t0);
  producer->shutdown(std::chrono::seconds(10));

  // process alone, over what the ingest run left in the topic
  SteadyClock::time_point t1;
  const double process_s =
      consume_all(topics_a, dir / "process.db", static_cast<std::int64_t>(events), &t1, nullptr);
  const double process = static_cast<double>(events) / process_s;

  // both at once
  const auto topics_b = kafka_options(brokers, "bench-" + run + "-b");
  auto producer_b = make_producer(topics_b);
  SteadyClock::time_point t2;
  std::thread feeding([&] { produce_all(*producer_b, batches); });
  const double both_s =
      consume_all(topics_b, dir / "both.db", static_cast<std::int64_t>(events), &t2, &feeding);
  const double both = static_cast<double>(events) / both_s;
  producer_b->shutdown(std::chrono::seconds(10));

  std::printf("%-10s %12s %10s\n", "mode", "events/s", "vs embedded");
  std::printf("%-10s %12.0f %10.2f\n", "embedded", embedded, 1.0);
  std::printf("%-10s %12.0f %10.2f\n", "ingest", ingest, ingest / embedded);
  std::printf("%-10s %12.0f %10.2f\n", "process", process, process / embedded);
  std::printf("%-10s %12.0f %10.2f\n", "both", both, both / embedded);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
