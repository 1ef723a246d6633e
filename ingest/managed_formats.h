// Audit logs of managed Kubernetes services, where no one can point the apiserver's webhook
// anywhere and the provider exports the log instead (docs/managed-clusters.md has every field's
// mapping and what each mapping cannot fill):
//
//   k8s  audit.k8s.io/v1 Events as kube-apiserver writes them (the native form);
//   eks  Amazon EKS control-plane audit logs from CloudWatch Logs: log events whose `message`
//        is the audit event (as `aws logs filter-log-events` / `get-log-events` print them, as a
//        subscription filter delivers them, one per line, or as an S3 export task writes them:
//        "<timestamp> <message>" per line), and plain audit JSON lines;
//   gke  Google Cloud Audit Logs entries of GKE (`protoPayload` of service k8s.io), mapped field
//        by field to audit events;
//   aks  Azure diagnostic records of AKS (`category` kube-audit or kube-audit-admin) whose
//        `properties.log` holds the audit event, alone, one per line or in `{"records":[...]}`.
//
// Contract: every converted record becomes an audit.k8s.io/v1 Event and is then decoded exactly
// as a native one, so validation, redaction and idempotency are the native ones. A record that
// cannot be converted is a rejected item with the reason, never an error of the whole input.
// Conversion is deterministic: replaying an export gives the same auditIDs (taken from the
// record, or derived from a SHA-256 of the record when it carries none), so a replay adds
// nothing.
//
// `auto` decides the format of an input from its first record; a later record of another format
// is rejected as "mixed formats" with the format it has, and a record of no known format is
// rejected saying so. A decoder made for `auto` learns its input's format: make one per input.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ingest/decoder.h"


namespace ktrail::ingest {

enum class SourceFormat { kAuto, kK8s, kEks, kGke, kAks };

const char* to_string(SourceFormat format);
// "auto", "k8s", "eks", "gke" or "aks".
Result<SourceFormat> parse_source_format(std::string_view text);

// The shape of one record (a JSON value read from a line or a document).
enum class RecordShape {
  kUnknown,
  kAuditEvent,      // an audit.k8s.io Event or EventList
  kEksLogEvent,     // a CloudWatch log event, or a list of them
  kGkeEntry,        // a Cloud Logging entry with a protoPayload
  kAksRecord,       // an Azure diagnostic record, or {"records": [...]}
};
const char* describe(RecordShape shape);
RecordShape classify(const rapidjson::Value& record);

// Converts one record of `format` (never kAuto) into audit event JSON texts appended to `events`
// (a wrapper of many records gives many). Returns the reason when it cannot.
Status convert_record(SourceFormat format, const rapidjson::Value& record,
                      std::vector<std::string>* events);

// A line of an S3 export of CloudWatch Logs: "2024-05-01T10:00:00.000Z {...}". Returns the
// message part, or an empty view when the line is not of that form.
std::string_view cloudwatch_export_message(std::string_view line);

// The audit decoder for inputs of `format`. For kK8s this is the native decoder itself.
std::shared_ptr<const PayloadDecoder> make_format_decoder(SourceFormat format);

}  // namespace ktrail::ingest
