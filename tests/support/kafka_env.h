// Helpers of the Kafka tests: the test broker (scripts/kafka.sh, started by the ctest fixture
// "kafka"), unique topic prefixes, synthetic events, temp dirs and deadline waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>

#include "core/audit_json.h"
#include "core/batch.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {

inline std::string kafka_brokers() {
  return std::string("127.0.0.1:") + std::to_string(KTRAIL_KAFKA_PORT);
}

// Runs scripts/kafka.sh with the test broker's environment; returns the exit status.
inline int kafka_script(const std::string& verb) {
  const std::string cmd = std::string("KAFKA_PORT=") + std::to_string(KTRAIL_KAFKA_PORT) +
                          " KAFKA_STATE_DIR='" + KTRAIL_KAFKA_STATE_DIR + "' '" +
                          KTRAIL_SOURCE_DIR + "/scripts/kafka.sh' " + verb + " >&2";
  return std::system(cmd.c_str());
}

inline std::string unique_name(const std::string& stem) {
  std::random_device rd;
  return stem + "-" + std::to_string(rd()) + std::to_string(rd() % 1000);
}

// Polls `pred` until it holds or `timeout` passes, waking every few milliseconds.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::mutex m;
  std::condition_variable never;
  std::unique_lock lock(m);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return pred();
    }
    never.wait_for(lock, std::chrono::milliseconds(10));
  }
  return true;
}

// The JSON of a Metadata-level audit event number `i`; the node/pod it touches varies with i
// so that keys spread over partitions.
inline std::string audit_json(const std::string& run, int i) {
  const std::string ts = "2026-01-01T00:00:" + std::string(i % 60 < 10 ? "0" : "") +
                         std::to_string(i % 60) + ".000000Z";
  const std::string pod = "web" + std::to_string(i % 17) + "-5d9c7b8f6-x2x4k";
  return R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":")" + run +
         "-" + std::to_string(i) +
         R"(","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/pods/)" + pod +
         R"(","verb":"get","user":{"username":"alice","groups":["dev"]},"sourceIPs":["10.0.0.1"],)"
         R"("userAgent":"kubectl","objectRef":{"resource":"pods","namespace":"prod","name":")" +
         pod +
         R"(","apiVersion":"v1"},"responseStatus":{"code":200},)"
         R"("requestReceivedTimestamp":")" +
         ts + R"(","stageTimestamp":")" + ts + R"("})";
}

inline AuditEvent audit_event(const std::string& run, int i) {
  auto decoded = decode_audit_document(audit_json(run, i));
  return std::move(decoded->events.at(0));
}

}  // namespace ktrail::testing
