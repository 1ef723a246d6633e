#include "report/render.h"

#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/writer.h>

#include "query/output.h"
#include "storage/rollups.h"

namespace ktrail::report {
namespace {

using query::Value;

Value text_or_null(const std::string& s) { return s.empty() ? Value::null() : Value::string(s); }

// One table of a section's rows, for -o table and -o csv (with `section` first for csv).
query::Table section_table(const Section& s, bool csv, bool details) {
  query::Table t;
  if (csv) {
    t.columns.push_back({"section", ""});
  }
  t.columns.push_back({"user", ""});
  t.columns.push_back({"impersonatedUser", "AS"});
  for (const std::string& c : s.columns) {
    t.columns.push_back({c, ""});
  }
  for (const char* c : {"count", "firstTime", "lastTime", "objects"}) {
    t.columns.push_back({c, ""});
  }
  if (details) {
    t.columns.push_back({"auditIDs", ""});
  }
  for (const ReportRow& r : s.rows) {
    std::vector<Value> row;
    if (csv) {
      row.push_back(Value::string(s.key));
    }
    row.push_back(text_or_null(r.user));
    row.push_back(text_or_null(r.impersonated_user));
    for (const std::string& c : s.columns) {
      if (c == "verb") {
        row.push_back(text_or_null(r.verb));
      } else if (c == "resource") {
        row.push_back(text_or_null(r.resource));
      } else if (c == "code") {
        row.push_back(r.code != 0 ? Value::integer(r.code) : Value::null());
      } else if (c == "sourceIPs") {
        row.push_back(r.source_ips.empty() ? Value::null() : Value::json(r.source_ips));
      } else {
        row.push_back(text_or_null(r.detail));
      }
    }
    row.push_back(Value::integer(r.count));
    row.push_back(Value::string(format_rfc3339(r.first)));
    row.push_back(Value::string(format_rfc3339(r.last)));
    row.push_back(Value::string(row_object_text(r)));
    if (details) {
      std::string ids;
      for (const std::string& id : r.audit_ids) {
        ids += (ids.empty() ? "" : " ") + id;
      }
      row.push_back(Value::string(ids));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

void render_table(const ComplianceReport& r, std::ostream& out) {
  out << "Compliance report " << format_rfc3339(r.since) << " .. " << format_rfc3339(r.until)
      << " (framework " << to_string(r.framework) << ")\n";
  for (const std::string& w : r.warnings) {
    out << "WARNING: " << w << "\n";
  }
  for (const Section& s : r.sections) {
    out << "\n== " << s.key << ": " << s.total << " ==";
    for (const std::string& c : s.controls) {
      out << " [" << c << "]";
    }
    out << "\n";
    if (!s.rows.empty()) {
      query::render(section_table(s, false, r.details), query::OutputFormat::kTable, out);
    }
  }
  const Coverage& c = r.coverage;
  out << "\n== coverage ==";
  for (const std::string& ctl : c.controls) {
    out << " [" << ctl << "]";
  }
  out << "\n";
  for (const auto& s : c.sources) {
    out << "source " << s.source << ": " << s.events << " events, " << format_rfc3339(s.first)
        << " .. " << format_rfc3339(s.last) << "\n";
  }
  for (const Gap& g : c.gaps) {
    out << "gap " << g.source << ": " << format_rfc3339(g.from) << " .. " << format_rfc3339(g.to)
        << "\n";
  }
  for (const auto& k : c.counters) {
    out << k.counter << " (" << k.source << "): " << k.count << "\n";
  }
  for (const auto& d : c.dead_letters) {
    out << "dead letters: " << d.reason << ": " << d.count << "\n";
  }
  for (const auto& p : c.policies) {
    out << "policy " << p.digest << " from " << format_rfc3339(p.since) << " (" << p.source
        << ")\n";
  }
}

void render_csv(const ComplianceReport& r, std::ostream& out) {
  query::Table all;
  for (const Section& s : r.sections) {
    // Every section in one table: the union of columns, in a fixed order.
    Section wide = s;
    wide.columns = {"verb", "resource", "code", "sourceIPs", "detail"};
    query::Table t = section_table(wide, true, r.details);
    if (all.columns.empty()) {
      all.columns = t.columns;
    }
    for (auto& row : t.rows) {
      all.rows.push_back(std::move(row));
    }
  }
  if (all.columns.empty()) {
    Section none;
    none.columns = {"verb", "resource", "code", "sourceIPs", "detail"};
    all = section_table(none, true, r.details);
  }
  query::render(all, query::OutputFormat::kCsv, out);
}

}  // namespace

Result<ReportFormat> parse_report_format(std::string_view text) {
  if (text == "table") {
    return ReportFormat::kTable;
  }
  if (text == "json") {
    return ReportFormat::kJson;
  }
  if (text == "csv") {
    return ReportFormat::kCsv;
  }
  if (text == "md") {
    return ReportFormat::kMarkdown;
  }
  if (text == "html") {
    return ReportFormat::kHtml;
  }
  return invalid_argument("unknown output format '" + std::string(text) +
                          "' (choose table, json, csv, md or html)");
}

std::string day_text(std::int64_t day) {
  return format_rfc3339(day * storage::kMicrosPerDay).substr(0, 10);
}

std::string row_object_text(const ReportRow& row) {
  std::string out;
  for (const std::string& o : row.objects) {
    out += (out.empty() ? "" : ", ") + o;
  }
  const auto shown = static_cast<std::int64_t>(row.objects.size());
  if (row.objects_total > shown) {
    out += " (+" + std::to_string(row.objects_total - shown) + " more)";
  }
  return out;
}

void render_json(const ComplianceReport& r, std::ostream& os) {
  rapidjson::OStreamWrapper stream(os);
  rapidjson::Writer<rapidjson::OStreamWrapper> w(stream);
  auto str = [&](const std::string& s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  auto key = [&](const char* k) { w.Key(k); };
  auto strings = [&](const std::vector<std::string>& v) {
    w.StartArray();
    for (const std::string& s : v) {
      str(s);
    }
    w.EndArray();
  };
  auto per_day = [&](const std::map<std::int64_t, std::int64_t>& days) {
    w.StartArray();
    for (const auto& [day, n] : days) {
      w.StartObject();
      key("day");
      str(day_text(day));
      key("count");
      w.Int64(n);
      w.EndObject();
    }
    w.EndArray();
  };
  w.StartObject();
  key("report");
  str("compliance");
  key("since");
  str(format_rfc3339(r.since));
  key("until");
  str(format_rfc3339(r.until));
  key("generated");
  str(format_rfc3339(r.generated));
  key("framework");
  str(to_string(r.framework));
  key("warnings");
  strings(r.warnings);
  key("summary");
  w.StartObject();
  for (const Section& s : r.sections) {
    key(s.key.c_str());
    w.Int64(s.total);
  }
  key("gaps");
  w.Int64(static_cast<std::int64_t>(r.coverage.gaps.size()));
  w.EndObject();
  key("topActors");
  w.StartArray();
  for (const auto& [who, n] : r.top_actors) {
    w.StartObject();
    key("actor");
    str(who);
    key("count");
    w.Int64(n);
    w.EndObject();
  }
  w.EndArray();
  key("sections");
  w.StartObject();
  for (const Section& s : r.sections) {
    key(s.key.c_str());
    w.StartObject();
    key("title");
    str(s.title);
    key("about");
    str(s.about);
    if (r.framework != Framework::kNone) {
      key("controls");
      strings(s.controls);
    }
    key("total");
    w.Int64(s.total);
    key("perDay");
    per_day(s.per_day);
    key("rows");
    w.StartArray();
    for (const ReportRow& row : s.rows) {
      w.StartObject();
      key("user");
      str(row.user);
      key("impersonatedUser");
      row.impersonated_user.empty() ? w.Null() : w.String(row.impersonated_user.c_str());
      for (const std::string& c : s.columns) {
        key(c.c_str());
        if (c == "verb") {
          str(row.verb);
        } else if (c == "resource") {
          str(row.resource);
        } else if (c == "code") {
          row.code != 0 ? w.Int(row.code) : w.Null();
        } else if (c == "sourceIPs") {
          w.RawValue(row.source_ips.empty() ? "[]" : row.source_ips.c_str(),
                     row.source_ips.empty() ? 2 : row.source_ips.size(), rapidjson::kArrayType);
        } else {
          str(row.detail);
        }
      }
      key("count");
      w.Int64(row.count);
      key("firstTime");
      str(format_rfc3339(row.first));
      key("lastTime");
      str(format_rfc3339(row.last));
      key("objects");
      strings(row.objects);
      key("objectsTotal");
      w.Int64(row.objects_total);
      if (r.details) {
        key("auditIDs");
        strings(row.audit_ids);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  // Coverage is the last section.
  const Coverage& c = r.coverage;
  key("coverage");
  w.StartObject();
  key("title");
  str("Coverage");
  if (r.framework != Framework::kNone) {
    key("controls");
    strings(c.controls);
  }
  key("rollupsSince");
  c.rollups_since ? w.String(format_rfc3339(*c.rollups_since).c_str()) : w.Null();
  key("sources");
  w.StartArray();
  for (const auto& s : c.sources) {
    w.StartObject();
    key("source");
    str(s.source);
    key("events");
    w.Int64(s.events);
    key("firstTime");
    str(format_rfc3339(s.first));
    key("lastTime");
    str(format_rfc3339(s.last));
    w.EndObject();
  }
  w.EndArray();
  key("gaps");
  w.StartArray();
  for (const Gap& g : c.gaps) {
    w.StartObject();
    key("source");
    str(g.source);
    key("from");
    str(format_rfc3339(g.from));
    key("to");
    str(format_rfc3339(g.to));
    key("seconds");
    w.Int64((g.to - g.from) / kMicrosPerSecond);
    w.EndObject();
  }
  w.EndArray();
  key("counters");
  w.StartArray();
  for (const auto& k : c.counters) {
    w.StartObject();
    key("counter");
    str(k.counter);
    key("source");
    str(k.source);
    key("count");
    w.Int64(k.count);
    w.EndObject();
  }
  w.EndArray();
  key("deadLetters");
  w.StartArray();
  for (const auto& d : c.dead_letters) {
    w.StartObject();
    key("reason");
    str(d.reason);
    key("count");
    w.Int64(d.count);
    w.EndObject();
  }
  w.EndArray();
  key("policies");
  w.StartArray();
  for (const auto& p : c.policies) {
    w.StartObject();
    key("since");
    str(format_rfc3339(p.since));
    key("source");
    str(p.source);
    key("digest");
    str(p.digest);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();  // coverage
  w.EndObject();  // sections
  w.EndObject();
  os << "\n";
}

void render_report(const ComplianceReport& report, ReportFormat format, std::ostream& out) {
  switch (format) {
    case ReportFormat::kTable:
      render_table(report, out);
      break;
    case ReportFormat::kJson:
      render_json(report, out);
      break;
    case ReportFormat::kCsv:
      render_csv(report, out);
      break;
    case ReportFormat::kMarkdown:
      render_markdown(report, out);
      break;
    case ReportFormat::kHtml:
      render_html(report, out);
      break;
  }
}

}  // namespace ktrail::report
