#include "query/audit_table.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "core/json.h"

namespace ktrail::query {
namespace {

Value text_or_null(const std::string& s) { return s.empty() ? Value::null() : Value::string(s); }

int parse_code(std::string_view text) {
  if (text.size() != 3) {
    return -1;
  }
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return -1;
    }
    n = n * 10 + (c - '0');
  }
  return n >= 100 && n <= 599 ? n : -1;
}

}  // namespace

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') {
      item.remove_prefix(1);
    }
    while (!item.empty() && item.back() == ' ') {
      item.remove_suffix(1);
    }
    if (!item.empty()) {
      out.emplace_back(item);
    }
    start = comma + 1;
  }
  return out;
}

Result<std::vector<std::pair<int, int>>> parse_code_list(std::string_view text) {
  std::vector<std::pair<int, int>> out;
  for (const std::string& item : split_list(text)) {
    if (item.size() == 3 && item[0] >= '1' && item[0] <= '5' && (item[1] == 'x' || item[1] == 'X') &&
        (item[2] == 'x' || item[2] == 'X')) {
      const int base = (item[0] - '0') * 100;
      out.emplace_back(base, base + 99);
      continue;
    }
    const auto dash = item.find('-');
    const int lo = parse_code(std::string_view(item).substr(0, dash));
    const int hi = dash == std::string::npos ? lo : parse_code(std::string_view(item).substr(dash + 1));
    if (lo < 0 || hi < 0 || hi < lo) {
      return invalid_argument("'" + item +
                              "' is not a response code (e.g. 403), a class (4xx) or a range "
                              "(400-499)");
    }
    out.emplace_back(lo, hi);
  }
  if (out.empty()) {
    return invalid_argument("no response code given");
  }
  return out;
}

std::string acting_identity(const std::string& user, const std::string& impersonated) {
  return impersonated.empty() ? user : user + " (as " + impersonated + ")";
}

std::vector<Column> audit_columns(OutputFormat format, bool with_event) {
  if (table_shape(format) == OutputFormat::kTable) {
    return {{"time", ""},      {"stage", ""}, {"user", ""}, {"verb", ""},
            {"resource", ""},  {"namespace", ""}, {"name", ""}, {"code", ""}};
  }
  std::vector<Column> columns = {{"time", ""},
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
                                 {"userAgent", ""},
                                 {"nonResourceURI", ""}};
  if (with_event) {
    columns.push_back({"event", ""});
  }
  return columns;
}

std::string non_resource_uri(const StoredAudit& r) {
  if (!r.resource.empty() || r.event.empty()) {
    return "";
  }
  rapidjson::Document d;
  if (!json::parse(r.event, &d).is_ok() || !d.IsObject()) {
    return "";
  }
  return std::string(json::get_string(d, "requestURI"));
}

void fill_audit_row(const StoredAudit& r, OutputFormat format, bool with_event,
                    std::string_view non_resource_uri, std::vector<Value>* row) {
  if (table_shape(format) == OutputFormat::kTable) {
    const std::string resource =
        !r.resource.empty() || non_resource_uri.empty()
            ? (r.subresource.empty() ? r.resource : r.resource + "/" + r.subresource)
            : std::string(non_resource_uri);
    *row = {Value::string(format_rfc3339(r.time)),
            Value::string(to_string(r.stage)),
            text_or_null(acting_identity(r.user, r.impersonated_user)),
            text_or_null(r.verb),
            text_or_null(resource),
            text_or_null(r.namespace_),
            text_or_null(r.name),
            r.code != 0 ? Value::integer(r.code) : Value::null()};
    return;
  }
  row->resize(with_event ? 19 : 18);
  Value* v = row->data();
  auto text = [&](std::size_t i, std::string_view s) {
    if (s.empty()) {
      v[i].reset(Value::Kind::kNull);
    } else {
      v[i].reset(Value::Kind::kString).assign(s);
    }
  };
  auto json = [&](std::size_t i, std::string_view s) {
    v[i].reset(Value::Kind::kJson).assign(s.empty() ? std::string_view("[]") : s);
  };
  append_rfc3339(r.time, &v[0].reset(Value::Kind::kString));
  append_rfc3339(r.received, &v[1].reset(Value::Kind::kString));
  v[2].reset(Value::Kind::kString).assign(r.audit_id);
  v[3].reset(Value::Kind::kString).assign(to_string(r.stage));
  v[4].reset(Value::Kind::kString).assign(to_string(r.level));
  v[5].reset(Value::Kind::kString).assign(to_string(r.level_received));
  text(6, r.user);
  json(7, r.groups);
  text(8, r.impersonated_user);
  text(9, r.verb);
  text(10, r.resource);
  text(11, r.subresource);
  text(12, r.namespace_);
  text(13, r.name);
  if (r.code != 0) {
    v[14].reset(Value::Kind::kInt).append(std::to_string(r.code));
  } else {
    v[14].reset(Value::Kind::kNull);
  }
  json(15, r.source_ips);
  text(16, r.user_agent);
  text(17, non_resource_uri);
  if (with_event) {
    if (r.event.empty()) {
      v[18].reset(Value::Kind::kNull);
    } else {
      v[18].reset(Value::Kind::kJson).assign(r.event);
    }
  }
}

std::vector<Value> audit_row(const StoredAudit& r, OutputFormat format, bool with_event,
                             std::string_view non_resource_uri) {
  std::vector<Value> row;
  fill_audit_row(r, format, with_event, non_resource_uri, &row);
  return row;
}

Table audit_table(const std::vector<StoredAudit>& rows, OutputFormat format, bool with_event) {
  Table t;
  t.columns = audit_columns(format, with_event);
  for (const auto& r : rows) {
    t.rows.push_back(audit_row(r, format, with_event, non_resource_uri(r)));
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
