// Replay of audit files (`ktrail ingest`): the logs kube-apiserver writes with
// --audit-log-path (one JSON Event per line), or a JSON document (an EventList, an array, a
// single Event, possibly pretty-printed). A path of "-" is stdin; gzip is recognised by its
// magic bytes (whatever the name), so `.gz` files and compressed stdin both work.
//
// Format detection: if the first non-blank line is a complete JSON value on its own, the input
// is JSON lines (each line an Event, or a whole EventList); otherwise it is one document.
// A bad line (not JSON, truncated, not an audit event) becomes a rejected item whose reason
// names the file and line, and reading goes on. A document that is not JSON is an error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/batch.h"
#include "core/status.h"
#include "ingest/decoder.h"

namespace ktrail::ingest {

struct ReplayOptions {
  std::size_t batch_size = 400;                 // items per emitted batch
  std::size_t max_line_bytes = 64u << 20;       // a longer line is rejected, not loaded
  std::size_t max_document_bytes = 1ull << 30;  // a document larger than this is an error
};

struct ReplayProgress {
  std::uint64_t bytes = 0;        // bytes of the file consumed (compressed bytes for gzip)
  std::uint64_t total_bytes = 0;  // size of the file; 0 when unknown (stdin, pipes)
  std::uint64_t items = 0;        // events and rejected items decoded so far
};

struct ReplayCallbacks {
  // Receives each batch in file order; an error stops the replay and is returned.
  std::function<Status(Batch)> emit;
  // Called now and then (not more than every 64 KiB read), and once at the end.
  std::function<void(const ReplayProgress&)> progress;
};

// Decides the payload kind of a file from its first bytes: audit events carry "auditID";
// Kubernetes Events carry "involvedObject" or "regarding". Reads only a peek of the file.
Result<PayloadKind> detect_payload_kind(const std::string& path);

Status replay_file(const std::string& path, const PayloadDecoder& decoder,
                   const ReplayOptions& options, const ReplayCallbacks& callbacks);

}  // namespace ktrail::ingest
