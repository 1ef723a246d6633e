// Replay of audit files (`ktrail ingest`): the logs kube-apiserver writes with
// --audit-log-path (one JSON Event per line), a JSON document (an EventList, an array, a
// single Event, possibly pretty-printed), or YAML documents (ingest/yaml_input.h: what
// `kubectl get events -o yaml` writes). A path of "-" is stdin; gzip is recognised by its
// magic bytes (whatever the name), so `.gz` files and compressed stdin both work.
//
// Format detection: YAML when the first line reads as YAML (yaml_input.h, looks_like_yaml);
// otherwise, if the first non-blank line is a complete JSON value on its own (or is broken, but
// one of the next few lines is a whole object written from its first column, as a log's
// records are), the input is JSON lines (each line an Event, or a whole EventList); otherwise it
// is one JSON document. A YAML
// document that is not a record of the kind is a rejected item naming the document and line.
// A bad line (not JSON, truncated, not an audit event) becomes a rejected item whose reason
// names the file and line, and reading goes on. A document that is not JSON is an error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

// The payload kind of an input from its first bytes (JSON or YAML): audit events carry an
// auditID key; Kubernetes Events an involvedObject or regarding key; audit when neither shows.
PayloadKind payload_kind_of(std::string_view head);
// The same for a file, reading only a peek of it. For "-" (stdin, which cannot be read twice)
// it answers audit: replay_input() decides stdin's kind from the bytes it buffers.
Result<PayloadKind> detect_payload_kind(const std::string& path);

Status replay_file(const std::string& path, const PayloadDecoder& decoder,
                   const ReplayOptions& options, const ReplayCallbacks& callbacks);
// The decoder of each kind, for replay_input (the audit one may read a managed service's export
// format, ingest/managed_formats.h).
struct KindDecoders {
  std::shared_ptr<const PayloadDecoder> audit;
  std::shared_ptr<const PayloadDecoder> events;
};

// replay_file() with the decoder of `kind`, or, without one, of the kind payload_kind_of()
// sees in the input's first 64 KiB (buffered, so stdin works too).
Status replay_input(const std::string& path, std::optional<PayloadKind> kind,
                    const KindDecoders& decoders, const ReplayOptions& options,
                    const ReplayCallbacks& callbacks);

}  // namespace ktrail::ingest
