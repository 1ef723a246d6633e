#include "ingest/managed_formats.h"

#include <cctype>
#include <optional>

#include "core/json.h"
#include "core/time.h"
#include "ingest/managed_gke.h"

namespace ktrail::ingest {
namespace {

using rapidjson::Value;

const Value* member(const Value& obj, const char* key) {
  if (!obj.IsObject()) {
    return nullptr;
  }
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

bool has_array(const Value& obj, const char* key) {
  const Value* v = member(obj, key);
  return v != nullptr && v->IsArray();
}

bool has_string(const Value& obj, const char* key) {
  const Value* v = member(obj, key);
  return v != nullptr && v->IsString();
}

std::string_view string_of(const Value& v) {
  return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

// What a record converts to: an audit event's JSON text, or why it cannot, with the part of the
// record it is about (a wrapper's item) so that the dead letter holds what was received.
struct Item {
  std::string text;
  std::string error;
  std::string raw;
};

// An audit event carried as text inside a record (`holder`): kept for decoding, or, when the
// text cannot be one, the record is rejected with `why`.
void add_embedded(std::string_view text, const char* why, const Value& holder,
                  std::vector<Item>* out) {
  text = trim(text);
  if (text.empty() || text.front() != '{') {
    out->push_back({"", why, json::to_compact(holder)});
    return;
  }
  out->push_back({std::string(text), "", ""});
}

void add_message(std::string_view message, const Value& log_event, std::vector<Item>* out) {
  add_embedded(message, "EKS log event: its message is not an audit event (JSON object)",
               log_event, out);
}

void add_log_events(const Value& events, std::vector<Item>* out) {
  for (const auto& e : events.GetArray()) {
    if (!has_string(e, "message")) {
      out->push_back({"", "EKS log event: no 'message' string", json::to_compact(e)});
      continue;
    }
    add_message(string_of(*member(e, "message")), e, out);
  }
}

void convert_eks(const Value& record, std::vector<Item>* out) {
  if (classify(record) == RecordShape::kAuditEvent) {
    out->push_back({json::to_compact(record), "", ""});
    return;
  }
  // A subscription filter's delivery (its control messages carry no log events), or the output
  // of `aws logs filter-log-events` / `get-log-events`.
  for (const char* key : {"logEvents", "events"}) {
    if (has_array(record, key)) {
      add_log_events(*member(record, key), out);
      return;
    }
  }
  add_message(string_of(*member(record, "message")), record, out);
}

void convert_aks_record(const Value& record, std::vector<Item>* out) {
  const std::string_view category = has_string(record, "category")
                                        ? string_of(*member(record, "category"))
                                        : std::string_view();
  if (category != "kube-audit" && category != "kube-audit-admin") {
    out->push_back({"",
                    "AKS record: category '" + std::string(category) +
                        "' is not an audit category (kube-audit, kube-audit-admin)",
                    json::to_compact(record)});
    return;
  }
  const Value* properties = member(record, "properties");
  const Value* log = properties != nullptr ? member(*properties, "log") : nullptr;
  if (log != nullptr && log->IsObject()) {
    out->push_back({json::to_compact(*log), "", ""});
    return;
  }
  add_embedded(log != nullptr ? string_of(*log) : std::string_view(),
               "AKS record: 'properties.log' does not hold an audit event", record, out);
}

void convert_aks(const Value& record, std::vector<Item>* out) {
  if (has_array(record, "records")) {
    for (const auto& r : (*member(record, "records")).GetArray()) {
      convert_aks_record(r, out);
    }
    return;
  }
  convert_aks_record(record, out);
}

void convert_gke(const Value& record, std::vector<Item>* out) {
  auto one = [&](const Value& entry) {
    Item item;
    Status s = convert_gke_entry(entry, &item.text);
    if (!s.is_ok()) {
      item.error = s.message();
      item.raw = json::to_compact(entry);
      item.text.clear();
    }
    out->push_back(std::move(item));
  };
  if (has_array(record, "entries")) {  // the Logging API's entries.list answer
    for (const auto& e : (*member(record, "entries")).GetArray()) {
      one(e);
    }
    return;
  }
  one(record);
}

// The shape a format reads (its first choice when it reads two).
bool format_reads(SourceFormat format, RecordShape shape) {
  switch (format) {
    case SourceFormat::kAuto:
      return shape != RecordShape::kUnknown;
    case SourceFormat::kK8s:
      return shape == RecordShape::kAuditEvent;
    case SourceFormat::kEks:
      return shape == RecordShape::kAuditEvent || shape == RecordShape::kEksLogEvent;
    case SourceFormat::kGke:
      return shape == RecordShape::kGkeEntry;
    case SourceFormat::kAks:
      return shape == RecordShape::kAksRecord;
  }
  return false;
}

SourceFormat format_of(RecordShape shape) {
  switch (shape) {
    case RecordShape::kAuditEvent:
      return SourceFormat::kK8s;
    case RecordShape::kEksLogEvent:
      return SourceFormat::kEks;
    case RecordShape::kGkeEntry:
      return SourceFormat::kGke;
    case RecordShape::kAksRecord:
      return SourceFormat::kAks;
    case RecordShape::kUnknown:
      break;
  }
  return SourceFormat::kAuto;
}

void append(Batch&& from, Batch* to) {
  for (auto& e : from.audit) {
    to->audit.push_back(std::move(e));
  }
  for (auto& r : from.rejected) {
    to->rejected.push_back(std::move(r));
  }
}

// Decodes inputs of one format, or of whichever format the first record has (auto). Converted
// records go through the native decoder; what it rejects keeps the record as received.
class FormatDecoder final : public PayloadDecoder {
 public:
  FormatDecoder(SourceFormat format, std::shared_ptr<const PayloadDecoder> native)
      : format_(format), native_(std::move(native)) {}

  PayloadKind kind() const override { return PayloadKind::kAudit; }

  Status decode_document(std::string_view text, Batch* batch) const override {
    // Native documents take the native path whole (one parse); anything it cannot read entirely
    // is read again record by record.
    if (accepts(RecordShape::kAuditEvent)) {
      Batch native;
      if (native_->decode_document(text, &native).is_ok() && native.rejected.empty() &&
          !native.audit.empty()) {
        settle(RecordShape::kAuditEvent);
        append(std::move(native), batch);
        return Status::ok();
      }
    }
    rapidjson::Document doc;
    Status parsed = json::parse(text, &doc);
    if (!parsed.is_ok()) {
      if (!cloudwatch_export_message(first_line(text)).empty()) {
        decode_export_lines(text, batch);
        return Status::ok();
      }
      return native_->decode_document(text, batch);  // the native error for what is not JSON
    }
    if (doc.IsArray()) {
      for (const auto& record : doc.GetArray()) {
        decode_record(record, json::to_compact(record), batch);
      }
      return Status::ok();
    }
    if (classify(doc) == RecordShape::kAuditEvent && accepts(RecordShape::kAuditEvent)) {
      settle(RecordShape::kAuditEvent);
      return native_->decode_document(text, batch);
    }
    decode_record(doc, std::string(text), batch);
    return Status::ok();
  }

  void decode_line(std::string_view line, Batch* batch) const override {
    const std::string_view message = cloudwatch_export_message(line);
    if (!message.empty()) {
      decode_export_message(message, line, batch);
      return;
    }
    // The native fast path once an input is known to be native audit events; a record of
    // another shape among them is then told apart from a merely bad event.
    if (settled_ == RecordShape::kAuditEvent) {
      const std::size_t before = batch->rejected.size();
      native_->decode_line(line, batch);
      for (std::size_t i = before; i < batch->rejected.size(); ++i) {
        rapidjson::Document doc;
        if (json::parse(batch->rejected[i].raw, &doc).is_ok()) {
          const RecordShape shape = classify(doc);
          if (shape != RecordShape::kAuditEvent && shape != RecordShape::kUnknown) {
            batch->rejected[i].reason = mixed(shape);
          }
        }
      }
      return;
    }
    rapidjson::Document doc;
    if (!json::parse(line, &doc).is_ok()) {
      native_->decode_line(line, batch);  // the native reason for a line that is not JSON
      return;
    }
    decode_record(doc, std::string(line), batch);
  }

 private:
  static std::string_view first_line(std::string_view text) {
    const std::size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) {
      return {};
    }
    text.remove_prefix(start);
    return text.substr(0, text.find('\n'));
  }

  bool accepts(RecordShape shape) const {
    if (format_ != SourceFormat::kAuto) {
      return format_reads(format_, shape);
    }
    return shape != RecordShape::kUnknown && (!settled_ || *settled_ == shape);
  }

  void settle(RecordShape shape) const {
    if (format_ == SourceFormat::kAuto && !settled_) {
      settled_ = shape;
    }
  }

  std::string mixed(RecordShape shape) const {
    return std::string("mixed formats: ") + describe(shape) + " in an input whose first record is " +
           describe(*settled_);
  }

  std::string refusal(RecordShape shape) const {
    if (shape == RecordShape::kUnknown) {
      return "not a record of a known format (a Kubernetes audit event, an EKS CloudWatch log "
             "event, a GKE Cloud Audit Logs entry or an AKS kube-audit record)";
    }
    if (format_ == SourceFormat::kAuto) {
      return mixed(shape);
    }
    return std::string(describe(shape)) + ", not a record of --format " + to_string(format_);
  }

  void decode_record(const Value& record, std::string raw, Batch* batch) const {
    const RecordShape shape = classify(record);
    if (!accepts(shape)) {
      batch->rejected.push_back({refusal(shape), std::move(raw)});
      return;
    }
    settle(shape);
    std::vector<Item> items;
    switch (format_ == SourceFormat::kAuto ? format_of(shape) : format_) {
      case SourceFormat::kEks:
        convert_eks(record, &items);
        break;
      case SourceFormat::kGke:
        convert_gke(record, &items);
        break;
      case SourceFormat::kAks:
        convert_aks(record, &items);
        break;
      case SourceFormat::kK8s:
      case SourceFormat::kAuto:
        native_->decode_line(raw, batch);
        return;
    }
    const std::string prefix = std::string(describe(shape)) + ": ";
    for (auto& item : items) {
      if (!item.error.empty()) {
        batch->rejected.push_back({item.error, std::move(item.raw)});
        continue;
      }
      Batch one;
      native_->decode_line(item.text, &one);
      for (auto& r : one.rejected) {
        r.reason = prefix + r.reason;
        r.raw = items.size() == 1 ? raw : r.raw;
      }
      append(std::move(one), batch);
    }
  }

  void decode_export_message(std::string_view message, std::string_view line, Batch* batch) const {
    if (!accepts(RecordShape::kEksLogEvent)) {
      batch->rejected.push_back({refusal(RecordShape::kEksLogEvent), std::string(line)});
      return;
    }
    settle(RecordShape::kEksLogEvent);
    Batch one;
    native_->decode_line(message, &one);
    for (auto& r : one.rejected) {
      r.reason = std::string(describe(RecordShape::kEksLogEvent)) + ": " + r.reason;
      r.raw = std::string(line);
    }
    append(std::move(one), batch);
  }

  // An S3 export of CloudWatch Logs read as one document: each line on its own, numbered.
  void decode_export_lines(std::string_view text, Batch* batch) const {
    std::size_t number = 0;
    while (!text.empty()) {
      const std::size_t nl = text.find('\n');
      const std::string_view line = trim(text.substr(0, nl));
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
      ++number;
      if (line.empty()) {
        continue;
      }
      const std::size_t before = batch->rejected.size();
      decode_line(line, batch);
      for (std::size_t i = before; i < batch->rejected.size(); ++i) {
        batch->rejected[i].reason = "line " + std::to_string(number) + ": " +
                                    batch->rejected[i].reason;
      }
    }
  }

  SourceFormat format_;
  std::shared_ptr<const PayloadDecoder> native_;
  // The shape of the input's first record, for auto (this decoder serves one input).
  mutable std::optional<RecordShape> settled_;
};

}  // namespace

const char* to_string(SourceFormat format) {
  switch (format) {
    case SourceFormat::kAuto:
      return "auto";
    case SourceFormat::kK8s:
      return "k8s";
    case SourceFormat::kEks:
      return "eks";
    case SourceFormat::kGke:
      return "gke";
    case SourceFormat::kAks:
      return "aks";
  }
  return "auto";
}

Result<SourceFormat> parse_source_format(std::string_view text) {
  for (SourceFormat f : {SourceFormat::kAuto, SourceFormat::kK8s, SourceFormat::kEks,
                         SourceFormat::kGke, SourceFormat::kAks}) {
    if (text == to_string(f)) {
      return f;
    }
  }
  return invalid_argument("unknown format '" + std::string(text) +
                          "' (expected auto, k8s, eks, gke or aks)");
}

const char* describe(RecordShape shape) {
  switch (shape) {
    case RecordShape::kAuditEvent:
      return "a Kubernetes audit event";
    case RecordShape::kEksLogEvent:
      return "an EKS CloudWatch log event";
    case RecordShape::kGkeEntry:
      return "a GKE Cloud Audit Logs entry";
    case RecordShape::kAksRecord:
      return "an AKS diagnostic record";
    case RecordShape::kUnknown:
      break;
  }
  return "a record of unknown format";
}

RecordShape classify(const Value& record) {
  if (!record.IsObject()) {
    return RecordShape::kUnknown;
  }
  if (member(record, "protoPayload") != nullptr || has_array(record, "entries")) {
    return RecordShape::kGkeEntry;
  }
  if (has_array(record, "records") ||
      (has_string(record, "category") && member(record, "properties") != nullptr)) {
    return RecordShape::kAksRecord;
  }
  if (has_array(record, "logEvents")) {
    return RecordShape::kEksLogEvent;
  }
  if (has_array(record, "events")) {
    const auto& events = (*member(record, "events")).GetArray();
    if (!events.Empty() && has_string(events[0], "message")) {
      return RecordShape::kEksLogEvent;
    }
  }
  const std::string_view kind =
      has_string(record, "kind") ? string_of(*member(record, "kind")) : std::string_view();
  const std::string_view api =
      has_string(record, "apiVersion") ? string_of(*member(record, "apiVersion"))
                                       : std::string_view();
  if (member(record, "auditID") != nullptr || api.rfind("audit.k8s.io/", 0) == 0 ||
      ((kind == "Event" || kind == "EventList") && member(record, "stage") != nullptr)) {
    return RecordShape::kAuditEvent;
  }
  if (has_string(record, "message") &&
      (member(record, "timestamp") != nullptr || member(record, "ingestionTime") != nullptr ||
       member(record, "eventId") != nullptr || member(record, "logStreamName") != nullptr)) {
    return RecordShape::kEksLogEvent;
  }
  return RecordShape::kUnknown;
}

Status convert_record(SourceFormat format, const Value& record, std::vector<std::string>* events) {
  std::vector<Item> items;
  switch (format) {
    case SourceFormat::kEks:
      convert_eks(record, &items);
      break;
    case SourceFormat::kGke:
      convert_gke(record, &items);
      break;
    case SourceFormat::kAks:
      convert_aks(record, &items);
      break;
    case SourceFormat::kK8s:
      items.push_back({json::to_compact(record), "", ""});
      break;
    case SourceFormat::kAuto:
      return invalid_argument("convert_record needs a format, not auto");
  }
  for (auto& item : items) {
    if (!item.error.empty()) {
      return invalid_argument(item.error);
    }
    events->push_back(std::move(item.text));
  }
  return Status::ok();
}

std::string_view cloudwatch_export_message(std::string_view line) {
  line = trim(line);
  const std::size_t space = line.find(' ');
  if (space == std::string_view::npos || space < 20 || line[4] != '-' || line[10] != 'T') {
    return {};
  }
  if (!parse_rfc3339(line.substr(0, space)).is_ok()) {
    return {};
  }
  const std::string_view message = trim(line.substr(space + 1));
  return !message.empty() && message.front() == '{' ? message : std::string_view();
}

std::shared_ptr<const PayloadDecoder> make_format_decoder(SourceFormat format) {
  auto native = make_decoder(PayloadKind::kAudit);
  if (format == SourceFormat::kK8s) {
    return *native;
  }
  return std::make_shared<FormatDecoder>(format, *native);
}

}  // namespace ktrail::ingest
