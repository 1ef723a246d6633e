#include "query/event_table.h"

namespace ktrail::query {
namespace {

Value text_or_null(const std::string& s) { return s.empty() ? Value::null() : Value::string(s); }

std::string object_text(const KubeEvent& e) {
  if (e.object.kind.empty()) {
    return e.object.name;
  }
  return e.object.kind + "/" + e.object.name;
}

}  // namespace

Table events_table(const std::vector<KubeEvent>& events, OutputFormat format) {
  Table t;
  if (format == OutputFormat::kTable) {
    t.columns = {{"lastTimestamp", "LAST SEEN"}, {"type", ""},      {"reason", ""},
                 {"object", ""},                 {"count", ""},     {"namespace", ""},
                 {"message", ""}};
    for (const auto& e : events) {
      t.rows.push_back({Value::string(format_rfc3339(e.last_time)), text_or_null(e.type),
                        text_or_null(e.reason), text_or_null(object_text(e)),
                        Value::integer(e.count), text_or_null(e.object.namespace_),
                        text_or_null(e.message)});
    }
    return t;
  }
  t.columns = {{"lastTimestamp", ""},   {"firstTimestamp", ""},  {"count", ""},
               {"type", ""},            {"reason", ""},          {"object", ""},
               {"objectKind", ""},      {"objectNamespace", ""}, {"objectName", ""},
               {"objectUID", ""},       {"message", ""},         {"sourceComponent", ""},
               {"sourceHost", ""},      {"namespace", ""},       {"name", ""},
               {"uid", ""}};
  for (const auto& e : events) {
    t.rows.push_back({Value::string(format_rfc3339(e.last_time)),
                      Value::string(format_rfc3339(e.first_time)), Value::integer(e.count),
                      text_or_null(e.type), text_or_null(e.reason), text_or_null(object_text(e)),
                      text_or_null(e.object.kind), text_or_null(e.object.namespace_),
                      text_or_null(e.object.name), text_or_null(e.object.uid),
                      text_or_null(e.message), text_or_null(e.source_component),
                      text_or_null(e.source_host), text_or_null(e.namespace_),
                      text_or_null(e.name), text_or_null(e.uid)});
  }
  return t;
}

}  // namespace ktrail::query
