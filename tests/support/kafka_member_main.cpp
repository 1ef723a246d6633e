// A process-role member for the Kafka crash tests: consumes <prefix>.* in one group and writes
// to its own shard, until SIGTERM (clean leave) or SIGKILL (the crash under test).
//   kafka_member BROKERS PREFIX GROUP SHARD_PATH
// Peers' offsets are read from the shard's directory, and a newly assigned partition's
// correlator is rebuilt from the shards there, as `ktrail serve --role process` does. Logs go to
// stderr.
#include <signal.h>

#include <cstdio>
#include <filesystem>

#include "app/kafka_roles.h"
#include "app/partition_restore.h"
#include "storage/store.h"

int main(int argc, char** argv) {
  using namespace ktrail;
  if (argc != 5) {
    std::fprintf(stderr, "usage: kafka_member BROKERS PREFIX GROUP SHARD_PATH\n");
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto store = Store::open(argv[4], StoreOptions{});
  if (!store) {
    std::fprintf(stderr, "kafka_member: %s\n", store.status().to_string().c_str());
    return 1;
  }
  app::KafkaRolesOptions options;
  options.role = app::KafkaRole::kProcess;
  options.kafka.brokers = argv[1];
  options.kafka.topic_prefix = argv[2];
  options.kafka.partitions = 4;
  options.kafka.client_id = std::filesystem::path(argv[4]).stem().string();
  options.kafka.extra = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  options.group_id = argv[3];
  options.store = store->get();
  options.peer_dir = std::filesystem::path(argv[4]).parent_path().string();
  options.chain = app::make_partition_chain_factory({app::ServeOptions{}, options.peer_dir});
  auto roles = app::KafkaRoles::start(options);
  if (!roles) {
    std::fprintf(stderr, "kafka_member: %s\n", roles.status().to_string().c_str());
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  (*roles)->stop(std::chrono::seconds(10));
  return 0;
}
