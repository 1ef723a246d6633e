// Payload decoders: turn what arrives (an HTTP body, a file, a line of a file) into a Batch.
// One decoder per payload kind; the HTTP endpoints and `ktrail ingest` pick one by kind, so a
// new kind (Kubernetes Events) is one more decoder, not a change to the server or the reader.
//
// Contract: a document that is not JSON, or not a shape the kind knows, is an error (the
// caller answers 400 or reports the file); inside a valid document, an item that is not a
// valid record goes whole into batch->rejected with the reason, and the rest are decoded.
// Decoders hold no state and may be used from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/batch.h"
#include "core/status.h"

namespace ktrail::ingest {

enum class PayloadKind { kAudit, kEvents };

const char* to_string(PayloadKind kind);
// "audit" or "events".
Result<PayloadKind> parse_payload_kind(std::string_view text);

class PayloadDecoder {
 public:
  virtual ~PayloadDecoder() = default;
  virtual PayloadKind kind() const = 0;
  // A whole document: a list, a single object, or an array.
  virtual Status decode_document(std::string_view text, Batch* batch) const = 0;
  // One line of a JSON-lines file; a bad line becomes a rejected item, never an error.
  virtual void decode_line(std::string_view line, Batch* batch) const = 0;
};

// The decoder of `kind`, or an error saying that kind is not supported (yet).
Result<std::shared_ptr<const PayloadDecoder>> make_decoder(PayloadKind kind);

}  // namespace ktrail::ingest
