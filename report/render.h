// Renders a compliance report (report/compliance.h) for `ktrail report compliance -o ...`.
//
// - json: one object: period, framework, warnings, summary, topActors, then `sections` keyed by
//   the stable section names, `coverage` last among them. Keys are part of the interface and only ever added to.
// - table: per section a heading and an aligned table (query/output.h); warnings first.
// - csv: one RFC 4180 table of every section's rows, with a `section` column first.
// - md: Markdown for a ticket or a wiki: warnings, summary, one table per section.
// - html: one self-contained page (no network resources): warnings, summary, inline SVG charts
//   of activity per day per section and of the top actors, one table per section
//   (report/html.cpp).
#pragma once

#include <ostream>
#include <string_view>

#include "core/status.h"
#include "report/compliance.h"

namespace ktrail::report {

enum class ReportFormat { kTable, kJson, kCsv, kMarkdown, kHtml };

// "table", "json", "csv", "md" or "html".
Result<ReportFormat> parse_report_format(std::string_view text);

void render_report(const ComplianceReport& report, ReportFormat format, std::ostream& out);

// Parts shared by the renderers.
void render_json(const ComplianceReport& report, std::ostream& out);
void render_markdown(const ComplianceReport& report, std::ostream& out);
void render_html(const ComplianceReport& report, std::ostream& out);
std::string day_text(std::int64_t day);  // "2026-03-01"
std::string row_object_text(const ReportRow& row);  // "a, b, c (+12 more)"

}  // namespace ktrail::report
