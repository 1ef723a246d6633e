// Topic set-up for Kafka mode: creates <prefix>.audit and <prefix>.events with the configured
// partition count when they are missing (the Admin API), and checks that an existing pair has
// equal partition counts, which the process role relies on (see docs/kafka.md).
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <string>

#include "core/status.h"
#include "queue/kafka_options.h"

namespace ktrail::kafka {

// Uses its own short-lived client; succeeds when both topics exist when it returns.
Status ensure_topics(const KafkaOptions& options, std::chrono::milliseconds timeout);

// The partition count of a topic, from a metadata request.
Result<int> partition_count(rd_kafka_t* rk, const std::string& topic,
                            std::chrono::milliseconds timeout);

}  // namespace ktrail::kafka
