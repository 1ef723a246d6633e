#include "query/audit_table.h"

namespace ktrail::query {
namespace {

Value text_or_null(const std::string& s) { return s.empty() ? Value::null() : Value::string(s); }
Value json_or_empty(const std::string& s) { return Value::json(s.empty() ? "[]" : s); }

}  // namespace

Table audit_table(const std::vector<StoredAudit>& rows, OutputFormat format, bool with_event) {
  Table t;
  if (format == OutputFormat::kTable) {
    t.columns = {{"time", ""},      {"user", ""}, {"verb", ""}, {"resource", ""},
                 {"namespace", ""}, {"name", ""}, {"code", ""}};
    for (const auto& r : rows) {
      const std::string resource =
          r.subresource.empty() ? r.resource : r.resource + "/" + r.subresource;
      t.rows.push_back({Value::string(format_rfc3339(r.time)), text_or_null(r.user),
                        text_or_null(r.verb), text_or_null(resource), text_or_null(r.namespace_),
                        text_or_null(r.name),
                        r.code != 0 ? Value::integer(r.code) : Value::null()});
    }
    return t;
  }
  t.columns = {{"time", ""},
               {"requestReceivedTimestamp", ""},
               {"auditID", ""},
               {"stage", ""},
               {"level", ""},
               {"levelReceived", ""},
               {"user", ""},
               {"groups", ""},
               {"impersonatedUser", ""},
               {"verb", ""},
               {"resource", ""},
               {"subresource", ""},
               {"namespace", ""},
               {"name", ""},
               {"code", ""},
               {"sourceIPs", ""},
               {"userAgent", ""}};
  if (with_event) {
    t.columns.push_back({"event", ""});
  }
  for (const auto& r : rows) {
    std::vector<Value> row = {Value::string(format_rfc3339(r.time)),
                              Value::string(format_rfc3339(r.received)),
                              Value::string(r.audit_id),
                              Value::string(to_string(r.stage)),
                              Value::string(to_string(r.level)),
                              Value::string(to_string(r.level_received)),
                              text_or_null(r.user),
                              json_or_empty(r.groups),
                              text_or_null(r.impersonated_user),
                              text_or_null(r.verb),
                              text_or_null(r.resource),
                              text_or_null(r.subresource),
                              text_or_null(r.namespace_),
                              text_or_null(r.name),
                              r.code != 0 ? Value::integer(r.code) : Value::null(),
                              json_or_empty(r.source_ips),
                              text_or_null(r.user_agent)};
    if (with_event) {
      row.push_back(r.event.empty() ? Value::null() : Value::json(r.event));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Value sql_value(const SqlValue& v) {
  static const char* kHex = "0123456789abcdef";
  switch (v.kind) {
    case SqlValue::Kind::kNull:
      break;
    case SqlValue::Kind::kInt:
      return Value::integer(v.integer);
    case SqlValue::Kind::kReal:
      return Value::real(v.real);
    case SqlValue::Kind::kText:
      return Value::string(v.text);
    case SqlValue::Kind::kBlob: {
      std::string hex;
      for (unsigned char c : v.text) {
        hex += kHex[c >> 4];
        hex += kHex[c & 15];
      }
      return Value::string(std::move(hex));
    }
  }
  return Value::null();
}

Table sql_table(const SqlResult& result) {
  Table t;
  for (const auto& name : result.columns) {
    t.columns.push_back({name, name});
  }
  for (const auto& in : result.rows) {
    auto& row = t.rows.emplace_back();
    for (const auto& v : in) {
      row.push_back(sql_value(v));
    }
  }
  return t;
}

}  // namespace ktrail::query
