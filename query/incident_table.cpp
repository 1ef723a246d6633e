#include "query/incident_table.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <sstream>
#include <tuple>

#include "core/json.h"
#include "query/audit_table.h"

namespace ktrail::query {
namespace {

Value text_or_null(const std::string& s) { return s.empty() ? Value::null() : Value::string(s); }

std::string json_array(const std::vector<std::string>& items) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartArray();
  for (const auto& item : items) {
    writer.String(item.data(), static_cast<rapidjson::SizeType>(item.size()));
  }
  writer.EndArray();
  return buffer.GetString();
}

std::string objects_text(const std::vector<std::string>& objects) {
  // The table shows a few; json and csv carry them all.
  std::string out;
  for (std::size_t i = 0; i < objects.size() && i < 3; ++i) {
    out += (i ? "," : "") + objects[i];
  }
  if (objects.size() > 3) {
    out += ",+" + std::to_string(objects.size() - 3);
  }
  return out;
}

std::string workload_text(const Incident& i) {
  if (i.workload.empty()) {
    return "";
  }
  return i.namespace_ + "/" + i.workload;
}

// A table of `columns` with one row per item.
template <typename T, typename RowOf>
Table table_of(std::vector<Column> columns, const std::vector<T>& items, RowOf row_of) {
  Table t;
  t.columns = std::move(columns);
  for (const T& item : items) {
    t.rows.push_back(row_of(item));
  }
  return t;
}

}  // namespace

std::vector<Column> incident_columns(OutputFormat format) {
  if (format == OutputFormat::kTable) {
    return {{"id", ""},     {"kind", ""},  {"start", ""}, {"end", ""},
            {"target", ""}, {"count", ""}, {"title", ""}};
  }
  return {{"id", ""},           {"kind", ""},  {"title", ""},     {"start", ""},
          {"end", ""},          {"node", ""},  {"namespace", ""}, {"workload", ""},
          {"workloadKind", ""}, {"actor", ""}, {"cause", ""},     {"objects", ""},
          {"replacements", ""}, {"count", ""}};
}

std::vector<Value> incident_row(const Incident& i, OutputFormat format) {
  if (format == OutputFormat::kTable) {
    return {Value::string(i.id),
            Value::string(to_string(i.kind)),
            Value::string(format_rfc3339(i.start)),
            i.end ? Value::string(format_rfc3339(*i.end)) : Value::string("open"),
            text_or_null(i.node.empty() ? workload_text(i) : i.node),
            Value::integer(i.count),
            Value::string(i.title)};
  }
  return {Value::string(i.id), Value::string(to_string(i.kind)), Value::string(i.title),
          Value::string(format_rfc3339(i.start)),
          i.end ? Value::string(format_rfc3339(*i.end)) : Value::null(), text_or_null(i.node),
          text_or_null(i.namespace_), text_or_null(i.workload), text_or_null(i.workload_kind),
          text_or_null(i.actor), text_or_null(i.cause),
          format == OutputFormat::kJson ? Value::json(json_array(i.objects))
                                        : Value::string(objects_text(i.objects)),
          format == OutputFormat::kJson ? Value::json(json_array(i.replacements))
                                        : Value::string(objects_text(i.replacements)),
          Value::integer(i.count)};
}

Table incidents_table(const std::vector<Incident>& incidents, OutputFormat format) {
  return table_of(incident_columns(format), incidents,
                  [&](const Incident& i) { return incident_row(i, format); });
}

Table members_table(const Incident& incident) {
  Table t;
  t.columns = {{"time", ""},   {"source", ""},  {"reason", ""},
               {"object", ""}, {"message", ""}, {"ref", ""}};
  for (const auto& m : incident.members) {
    t.rows.push_back({Value::string(format_rfc3339(m.time)), Value::string(to_string(m.source)),
                      text_or_null(m.reason), text_or_null(m.object), text_or_null(m.message),
                      Value::string(m.ref)});
  }
  return t;
}

std::string incident_json(const Incident& incident) {
  // One row of the list's JSON, plus members: rendered through the same table code so the
  // keys and types are the list's.
  std::ostringstream list;
  render(incidents_table({incident}, OutputFormat::kJson), OutputFormat::kJson, list);
  std::ostringstream members;
  render(members_table(incident), OutputFormat::kJson, members);
  rapidjson::Document doc;
  rapidjson::Document member_doc;
  if (!json::parse(list.str(), &doc).is_ok() || !doc.IsArray() || doc.Empty() ||
      !json::parse(members.str(), &member_doc).is_ok()) {
    return "{}";
  }
  rapidjson::Value object(doc[0], doc.GetAllocator());
  rapidjson::Value member_value(member_doc, doc.GetAllocator());
  object.AddMember("members", member_value, doc.GetAllocator());
  return json::to_compact(object);
}

TimelineRow audit_timeline_row(const StoredAudit& a, const std::string& change) {
  // A request for no resource is named by its URI (/healthz), when its event was read.
  std::string object = a.resource.empty() ? non_resource_uri(a) : a.resource;
  if (!a.subresource.empty()) {
    object += "/" + a.subresource;
  }
  if (!a.name.empty()) {
    object += "/" + a.name;
  }
  const std::string code = a.code != 0 ? "code " + std::to_string(a.code) : "";
  std::string message = change.empty() ? code
                        : code.empty() ? change
                                       : change + " (" + code + ")";
  return {a.time, "audit", a.verb, object, a.user, a.namespace_, std::move(message),
          a.audit_id, to_string(a.stage), a.code, change, "", a.cluster};
}

TimelineRow event_timeline_row(const KubeEvent& e) {
  std::string object = e.object.kind + "/" + e.object.name;
  std::string message = e.message;
  if (e.count > 1) {
    message += " (x" + std::to_string(e.count) + " since " + format_rfc3339(e.first_time) + ")";
  }
  return {e.last_time, "event", e.reason, object, e.source_component, e.object.namespace_,
          message, e.uid, "", 0, "", e.type, e.cluster,
          e.namespace_.empty() ? e.name : e.namespace_ + "/" + e.name};
}

TimelineRow incident_timeline_row(const Incident& i) {
  const std::string object = i.node.empty() ? workload_text(i) : "node/" + i.node;
  return {i.start, "incident", to_string(i.kind), object, i.actor, i.namespace_,
          i.title + (i.end ? ", until " + format_rfc3339(*i.end) : ", open"), i.id, "", 0,
          "", "", i.cluster};
}

bool timeline_before(const TimelineRow& a, const TimelineRow& b) {
  auto rank = [](const std::string& source) {
    return source == "audit" ? 0 : source == "event" ? 1 : 2;
  };
  return std::make_tuple(a.time, rank(a.source), std::cref(a.ref)) <
         std::make_tuple(b.time, rank(b.source), std::cref(b.ref));
}

std::vector<TimelineRow> merge_timeline(const std::vector<StoredAudit>& audit,
                                        const std::vector<KubeEvent>& events,
                                        const std::vector<Incident>& incidents, std::size_t limit,
                                        const std::vector<std::string>* changes) {
  std::vector<TimelineRow> rows;
  rows.reserve(audit.size() + events.size() + incidents.size());
  for (std::size_t n = 0; n < audit.size(); ++n) {
    rows.push_back(audit_timeline_row(
        audit[n], changes != nullptr && n < changes->size() ? (*changes)[n] : std::string()));
  }
  for (const auto& e : events) {
    rows.push_back(event_timeline_row(e));
  }
  for (const auto& i : incidents) {
    rows.push_back(incident_timeline_row(i));
  }
  std::stable_sort(rows.begin(), rows.end(), timeline_before);
  if (limit > 0 && rows.size() > limit) {
    rows.erase(rows.begin(), rows.end() - static_cast<std::ptrdiff_t>(limit));
  }
  return rows;
}

std::vector<Column> timeline_columns(OutputFormat format) {
  if (format == OutputFormat::kTable) {
    return {{"time", ""},   {"source", ""}, {"what", ""},
            {"object", ""}, {"user", ""},   {"message", ""}};
  }
  return {{"time", ""},  {"source", ""},    {"what", ""},    {"object", ""},
          {"user", ""},  {"namespace", ""}, {"message", ""}, {"ref", ""},
          {"stage", ""}, {"code", ""},      {"change", ""},  {"type", ""}};
}

std::vector<Value> timeline_row(const TimelineRow& r, OutputFormat format) {
  std::vector<Value> row = {Value::string(format_rfc3339(r.time)), Value::string(r.source),
                            text_or_null(r.what), text_or_null(r.object), text_or_null(r.user)};
  if (format != OutputFormat::kTable) {
    row.push_back(text_or_null(r.namespace_));
  }
  row.push_back(text_or_null(r.message));
  if (format != OutputFormat::kTable) {
    row.push_back(Value::string(r.ref));
    row.push_back(text_or_null(r.stage));
    row.push_back(r.code != 0 ? Value::integer(r.code) : Value::null());
    row.push_back(text_or_null(r.change));
    row.push_back(text_or_null(r.type));
  }
  return row;
}

std::vector<Column> timeline_name_columns() { return {{"source", ""}, {"id", ""}}; }

std::vector<Value> timeline_name_row(const TimelineRow& row) {
  return {Value::string(row.source), Value::string(row.name.empty() ? row.ref : row.name)};
}

Table timeline_table(const std::vector<TimelineRow>& rows, OutputFormat format) {
  return table_of(timeline_columns(format), rows,
                  [&](const TimelineRow& r) { return timeline_row(r, format); });
}

}  // namespace ktrail::query
