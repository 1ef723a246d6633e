// -o md and -o html of a compliance report (report/render.h).
#include <algorithm>
#include <sstream>

#include "report/render.h"

namespace ktrail::report {
namespace {

std::string escape_html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Markdown table cells: a pipe or a line break would end the cell.
std::string escape_md(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else if (c == '<') {
      out += "&lt;";
    } else {
      out += c;
    }
  }
  return out;
}

// The optional columns of a section, as text.
std::string column_text(const ReportRow& r, const std::string& c) {
  if (c == "verb") {
    return r.verb;
  }
  if (c == "resource") {
    return r.resource;
  }
  if (c == "code") {
    return r.code != 0 ? std::to_string(r.code) : "";
  }
  if (c == "sourceIPs") {
    std::string ips = r.source_ips;
    ips.erase(std::remove_if(ips.begin(), ips.end(), [](char ch) { return ch == '"'; }),
              ips.end());
    return ips.size() >= 2 ? ips.substr(1, ips.size() - 2) : ips;
  }
  return r.detail;
}

std::string column_header(const std::string& c) {
  if (c == "sourceIPs") {
    return "Source IPs";
  }
  std::string h = c;
  h[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(h[0])));
  return h;
}

std::vector<std::string> headers_of(const Section& s, bool details) {
  std::vector<std::string> h = {"User", "As"};
  for (const std::string& c : s.columns) {
    h.push_back(column_header(c));
  }
  for (const char* c : {"Count", "First", "Last", "Objects"}) {
    h.emplace_back(c);
  }
  if (details) {
    h.emplace_back("Audit IDs");
  }
  return h;
}

std::vector<std::string> cells_of(const Section& s, const ReportRow& r, bool details) {
  std::vector<std::string> v = {r.user, r.impersonated_user};
  for (const std::string& c : s.columns) {
    v.push_back(column_text(r, c));
  }
  v.push_back(std::to_string(r.count));
  v.push_back(format_rfc3339(r.first));
  v.push_back(format_rfc3339(r.last));
  v.push_back(row_object_text(r));
  if (details) {
    std::string ids;
    for (const std::string& id : r.audit_ids) {
      ids += (ids.empty() ? "" : " ") + id;
    }
    v.push_back(ids);
  }
  return v;
}

std::string controls_text(const std::vector<std::string>& controls) {
  std::string out;
  for (const std::string& c : controls) {
    out += (out.empty() ? "" : ", ") + c;
  }
  return out;
}

// Bars of one series, in an inline SVG (no script, no external resource).
std::string bar_chart(const std::vector<std::pair<std::string, std::int64_t>>& bars,
                      const std::string& title, bool horizontal) {
  std::int64_t max = 1;
  for (const auto& [label, n] : bars) {
    max = std::max(max, n);
  }
  std::ostringstream svg;
  if (horizontal) {
    const int row = 22;
    const int height = static_cast<int>(bars.size()) * row + 10;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"760\" height=\""
        << height << "\" aria-label=\"" << escape_html(title) << "\"><title>"
        << escape_html(title) << "</title>";
    int y = 5;
    for (const auto& [label, n] : bars) {
      const auto w = static_cast<int>(360.0 * static_cast<double>(n) / static_cast<double>(max));
      svg << "<text x=\"0\" y=\"" << y + 15 << "\" font-size=\"12\">"
          << escape_html(label.substr(0, 48)) << "</text><rect x=\"340\" y=\"" << y + 3
          << "\" width=\"" << std::max(w, 1) << "\" height=\"16\" fill=\"#3b6ea8\"/>"
          << "<text x=\"" << 345 + w << "\" y=\"" << y + 15 << "\" font-size=\"12\">" << n
          << "</text>";
      y += row;
    }
    svg << "</svg>";
    return svg.str();
  }
  const int width = 640;
  const int height = 140;
  const int n = std::max<int>(1, static_cast<int>(bars.size()));
  const double step = (width - 20.0) / n;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"" << width
      << "\" height=\"" << height + 20 << "\" aria-label=\"" << escape_html(title) << "\"><title>"
      << escape_html(title) << "</title><line x1=\"10\" y1=\"" << height << "\" x2=\""
      << width - 10 << "\" y2=\"" << height << "\" stroke=\"#888\"/>";
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const double h = (height - 10.0) * static_cast<double>(bars[i].second) /
                      static_cast<double>(max);
    const double x = 10 + step * static_cast<double>(i);
    svg << "<rect x=\"" << x + 1 << "\" y=\"" << height - h << "\" width=\""
        << std::max(1.0, step - 2) << "\" height=\"" << h << "\" fill=\"#3b6ea8\"><title>"
        << escape_html(bars[i].first) << ": " << bars[i].second << "</title></rect>";
  }
  if (!bars.empty()) {
    svg << "<text x=\"10\" y=\"" << height + 15 << "\" font-size=\"11\">"
        << escape_html(bars.front().first) << "</text><text x=\"" << width - 10 << "\" y=\""
        << height + 15 << "\" font-size=\"11\" text-anchor=\"end\">"
        << escape_html(bars.back().first) << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

// Every day of the report's period with its count (0 when none), for a chart.
std::vector<std::pair<std::string, std::int64_t>> daily_series(
    const ComplianceReport& r, const std::map<std::int64_t, std::int64_t>& per_day) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  const std::int64_t first = r.since / (86'400 * kMicrosPerSecond);
  const std::int64_t last = r.until / (86'400 * kMicrosPerSecond);
  for (std::int64_t d = first; d <= last && out.size() < 400; ++d) {
    auto it = per_day.find(d);
    out.emplace_back(day_text(d), it == per_day.end() ? 0 : it->second);
  }
  return out;
}

}  // namespace

void render_markdown(const ComplianceReport& r, std::ostream& out) {
  out << "# Compliance report\n\n"
      << "Period: " << format_rfc3339(r.since) << " to " << format_rfc3339(r.until)
      << "  \nGenerated: " << format_rfc3339(r.generated) << "  \nFramework: "
      << to_string(r.framework) << "\n\n";
  if (!r.warnings.empty()) {
    out << "## Warnings\n\n";
    for (const std::string& w : r.warnings) {
      out << "- **" << escape_md(w) << "**\n";
    }
    out << "\n";
  }
  out << "## Summary\n\n| Section | Events |" << (r.framework != Framework::kNone ? " Controls |" : "")
      << "\n|---|---:|" << (r.framework != Framework::kNone ? "---|" : "") << "\n";
  for (const Section& s : r.sections) {
    out << "| " << s.key << " | " << s.total << " |";
    if (r.framework != Framework::kNone) {
      out << " " << escape_md(controls_text(s.controls)) << " |";
    }
    out << "\n";
  }
  out << "| coverage | " << r.coverage.gaps.size() << " gap(s) |";
  if (r.framework != Framework::kNone) {
    out << " " << escape_md(controls_text(r.coverage.controls)) << " |";
  }
  out << "\n";
  for (const Section& s : r.sections) {
    out << "\n## " << s.key << "\n\n" << escape_md(s.about) << "\n\n";
    if (s.rows.empty()) {
      out << "None in the period.\n";
      continue;
    }
    const auto headers = headers_of(s, r.details);
    out << "|";
    for (const auto& h : headers) {
      out << " " << h << " |";
    }
    out << "\n|";
    for (std::size_t i = 0; i < headers.size(); ++i) {
      out << "---|";
    }
    out << "\n";
    for (const ReportRow& row : s.rows) {
      out << "|";
      for (const std::string& cell : cells_of(s, row, r.details)) {
        out << " " << escape_md(cell) << " |";
      }
      out << "\n";
    }
  }
  const Coverage& c = r.coverage;
  out << "\n## coverage\n\n";
  for (const auto& s : c.sources) {
    out << "- source `" << escape_md(s.source) << "`: " << s.events << " events, "
        << format_rfc3339(s.first) << " to " << format_rfc3339(s.last) << "\n";
  }
  for (const Gap& g : c.gaps) {
    out << "- gap in `" << escape_md(g.source) << "`: " << format_rfc3339(g.from) << " to "
        << format_rfc3339(g.to) << "\n";
  }
  for (const auto& k : c.counters) {
    out << "- " << escape_md(k.counter) << " (`" << escape_md(k.source) << "`): " << k.count
        << "\n";
  }
  for (const auto& d : c.dead_letters) {
    out << "- dead letters, " << escape_md(d.reason) << ": " << d.count << "\n";
  }
  for (const auto& p : c.policies) {
    out << "- audit policy `" << escape_md(p.digest) << "` from " << format_rfc3339(p.since)
        << " (" << escape_md(p.source) << ")\n";
  }
}

void render_html(const ComplianceReport& r, std::ostream& out) {
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "style-src 'unsafe-inline'; img-src data:\">"
      << "<title>Compliance report " << format_rfc3339(r.since).substr(0, 10) << " to "
      << format_rfc3339(r.until).substr(0, 10) << "</title><style>"
      << "body{font-family:sans-serif;margin:2em;color:#222}"
         "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}"
         "th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}"
         "th{background:#eef}.warn{background:#fff3cd;border:1px solid #e0b000;padding:0.5em 1em}"
         ".controls{color:#555;font-size:13px}td.n{text-align:right}"
      << "</style></head><body>\n<h1>Compliance report</h1>\n<p id=\"period\">Period: "
      << format_rfc3339(r.since) << " to " << format_rfc3339(r.until) << ". Generated "
      << format_rfc3339(r.generated) << ". Framework: " << to_string(r.framework) << ".</p>\n";
  if (!r.warnings.empty()) {
    out << "<div class=\"warn\" id=\"warnings\"><h2>The report cannot vouch for everything</h2><ul>";
    for (const std::string& w : r.warnings) {
      out << "<li>" << escape_html(w) << "</li>";
    }
    out << "</ul></div>\n";
  }
  out << "<h2>Summary</h2>\n<table id=\"summary\"><tr><th>Section</th><th>Events</th>"
      << (r.framework != Framework::kNone ? "<th>Controls</th>" : "") << "</tr>";
  for (const Section& s : r.sections) {
    out << "<tr><td><a href=\"#" << s.key << "\">" << s.key << "</a></td><td class=\"n\">"
        << s.total << "</td>";
    if (r.framework != Framework::kNone) {
      out << "<td>" << escape_html(controls_text(s.controls)) << "</td>";
    }
    out << "</tr>";
  }
  out << "<tr><td><a href=\"#coverage\">coverage</a></td><td class=\"n\">" << r.coverage.gaps.size()
      << " gap(s)</td>";
  if (r.framework != Framework::kNone) {
    out << "<td>" << escape_html(controls_text(r.coverage.controls)) << "</td>";
  }
  out << "</tr></table>\n<h2>Top actors</h2>\n"
      << bar_chart(r.top_actors, "Top actors by events", true) << "\n";
  for (const Section& s : r.sections) {
    out << "<section id=\"" << s.key << "\"><h2>" << s.key << ": " << escape_html(s.title)
        << " (" << s.total << ")</h2><p>" << escape_html(s.about) << "</p>";
    if (!s.controls.empty()) {
      out << "<p class=\"controls\">Evidence for " << escape_html(controls_text(s.controls))
          << "</p>";
    }
    if (s.rows.empty()) {
      out << "<p>None in the period.</p></section>\n";
      continue;
    }
    out << bar_chart(daily_series(r, s.per_day), s.key + " per day", false);
    out << "<table><tr>";
    for (const auto& h : headers_of(s, r.details)) {
      out << "<th>" << escape_html(h) << "</th>";
    }
    out << "</tr>";
    for (const ReportRow& row : s.rows) {
      out << "<tr>";
      for (const std::string& cell : cells_of(s, row, r.details)) {
        out << "<td>" << escape_html(cell) << "</td>";
      }
      out << "</tr>";
    }
    out << "</table></section>\n";
  }
  const Coverage& c = r.coverage;
  out << "<section id=\"coverage\"><h2>coverage</h2>";
  if (!c.controls.empty()) {
    out << "<p class=\"controls\">Evidence for " << escape_html(controls_text(c.controls))
        << "</p>";
  }
  out << "<table><tr><th>Source</th><th>Events</th><th>First</th><th>Last</th></tr>";
  for (const auto& s : c.sources) {
    out << "<tr><td>" << escape_html(s.source) << "</td><td class=\"n\">" << s.events
        << "</td><td>" << format_rfc3339(s.first) << "</td><td>" << format_rfc3339(s.last)
        << "</td></tr>";
  }
  out << "</table><h3>Gaps</h3>";
  if (c.gaps.empty()) {
    out << "<p>No gaps longer than the threshold.</p>";
  } else {
    out << "<table><tr><th>Source</th><th>From</th><th>To</th></tr>";
    for (const Gap& g : c.gaps) {
      out << "<tr><td>" << escape_html(g.source) << "</td><td>" << format_rfc3339(g.from)
          << "</td><td>" << format_rfc3339(g.to) << "</td></tr>";
    }
    out << "</table>";
  }
  out << "<h3>Counted, not stored as received</h3><table><tr><th>What</th><th>Source</th>"
         "<th>Count</th></tr>";
  for (const auto& k : c.counters) {
    out << "<tr><td>" << escape_html(k.counter) << "</td><td>" << escape_html(k.source)
        << "</td><td class=\"n\">" << k.count << "</td></tr>";
  }
  for (const auto& d : c.dead_letters) {
    out << "<tr><td>dead letter: " << escape_html(d.reason) << "</td><td></td><td class=\"n\">"
        << d.count << "</td></tr>";
  }
  out << "</table><h3>Audit policy in force</h3><table><tr><th>Since</th><th>Source</th>"
         "<th>Digest</th></tr>";
  for (const auto& p : c.policies) {
    out << "<tr><td>" << format_rfc3339(p.since) << "</td><td>" << escape_html(p.source)
        << "</td><td>" << escape_html(p.digest) << "</td></tr>";
  }
  out << "</table></section>\n</body></html>\n";
}

}  // namespace ktrail::report
