#include "ingest/decoder.h"

#include "core/audit_json.h"

namespace ktrail::ingest {
namespace {

void append(DecodedAudit&& decoded, Batch* batch) {
  for (auto& e : decoded.events) {
    batch->audit.push_back(std::move(e));
  }
  for (auto& r : decoded.rejected) {
    batch->rejected.push_back(std::move(r));
  }
}

class AuditDecoder final : public PayloadDecoder {
 public:
  PayloadKind kind() const override { return PayloadKind::kAudit; }

  Status decode_document(std::string_view text, Batch* batch) const override {
    auto decoded = decode_audit_document(text);
    if (!decoded) {
      return decoded.status();
    }
    append(std::move(*decoded), batch);
    return Status::ok();
  }

  void decode_line(std::string_view line, Batch* batch) const override {
    DecodedAudit decoded;
    decode_audit_line(line, &decoded);
    // A line may hold a whole EventList (a captured webhook body): decode it as a document
    // rather than reject it as one event without an auditID.
    if (decoded.events.empty() && decoded.rejected.size() == 1 && looks_like_list(line)) {
      DecodedAudit as_list;
      auto listed = decode_audit_document(line);
      if (listed) {
        append(std::move(*listed), batch);
        return;
      }
    }
    append(std::move(decoded), batch);
  }

 private:
  static bool looks_like_list(std::string_view line) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) {
      return false;
    }
    return line[first] == '[' || line.find("\"items\"") != std::string_view::npos;
  }
};

}  // namespace

const char* to_string(PayloadKind kind) { return kind == PayloadKind::kAudit ? "audit" : "events"; }

Result<PayloadKind> parse_payload_kind(std::string_view text) {
  if (text == "audit") {
    return PayloadKind::kAudit;
  }
  if (text == "events") {
    return PayloadKind::kEvents;
  }
  return invalid_argument("unknown kind '" + std::string(text) + "' (expected audit or events)");
}

Result<std::shared_ptr<const PayloadDecoder>> make_decoder(PayloadKind kind) {
  switch (kind) {
    case PayloadKind::kAudit:
      return std::shared_ptr<const PayloadDecoder>(std::make_shared<AuditDecoder>());
    case PayloadKind::kEvents:
      break;
  }
  return invalid_argument("Kubernetes Events decoding is not supported yet (--kind events)");
}

}  // namespace ktrail::ingest
