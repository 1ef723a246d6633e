#include "query/output.h"

#include <rapidjson/document.h>
#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/prettywriter.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/json.h"

namespace ktrail::query {
namespace {

std::string header_of(const Column& c) {
  if (!c.header.empty()) {
    return c.header;
  }
  std::string h = c.key;
  for (char& ch : h) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return h;
}

// Display width in columns: counts UTF-8 code points, not bytes.
std::size_t width_of(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

// A table cell stays on one line: control characters become spaces.
std::string cell_text(const Value& v) {
  if (v.kind() == Value::Kind::kNull) {
    return "<none>";
  }
  std::string s = v.text();
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) {
      c = ' ';
    }
  }
  return s;
}

void render_table(const Table& t, std::ostream& out) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> headers;
  std::vector<std::size_t> widths;
  for (const auto& c : t.columns) {
    headers.push_back(header_of(c));
    widths.push_back(width_of(headers.back()));
  }
  for (const auto& row : t.rows) {
    auto& line = cells.emplace_back();
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      line.push_back(i < row.size() ? cell_text(row[i]) : "<none>");
      widths[i] = std::max(widths[i], width_of(line.back()));
    }
  }
  auto print = [&](const std::vector<std::string>& line) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) {
        text.append(widths[i] - width_of(line[i]) + 3, ' ');
      }
    }
    out << text << '\n';
  };
  print(headers);
  for (const auto& line : cells) {
    print(line);
  }
}

void write_csv_field(std::string_view s, std::ostream& out) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    out << s;
    return;
  }
  out << '"';
  for (char c : s) {
    if (c == '"') {
      out << '"';
    }
    out << c;
  }
  out << '"';
}

void render_csv(const Table& t, std::ostream& out) {
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    if (i > 0) {
      out << ',';
    }
    write_csv_field(t.columns[i].key, out);
  }
  out << "\r\n";
  for (const auto& row : t.rows) {
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      if (i > 0) {
        out << ',';
      }
      if (i < row.size()) {
        write_csv_field(row[i].text(), out);
      }
    }
    out << "\r\n";
  }
}

void render_json(const Table& t, std::ostream& out) {
  rapidjson::OStreamWrapper stream(out);
  rapidjson::PrettyWriter<rapidjson::OStreamWrapper> w(stream);
  w.SetIndent(' ', 2);
  w.StartArray();
  for (const auto& row : t.rows) {
    w.StartObject();
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      const auto& key = t.columns[i].key;
      w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      const Value v = i < row.size() ? row[i] : Value::null();
      const auto& s = v.text();
      switch (v.kind()) {
        case Value::Kind::kNull:
          w.Null();
          break;
        case Value::Kind::kString:
          w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
          break;
        case Value::Kind::kInt:
        case Value::Kind::kReal:
          w.RawValue(s.data(), s.size(), rapidjson::kNumberType);
          break;
        case Value::Kind::kJson: {
          // Re-emitted through a document so the pretty layout stays consistent.
          rapidjson::Document d;
          if (!json::parse(s, &d).is_ok()) {
            w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
          } else {
            d.Accept(w);
          }
          break;
        }
      }
    }
    w.EndObject();
  }
  w.EndArray();
  out << '\n';
}

}  // namespace

Result<OutputFormat> parse_output_format(std::string_view text) {
  if (text == "table") {
    return OutputFormat::kTable;
  }
  if (text == "json") {
    return OutputFormat::kJson;
  }
  if (text == "csv") {
    return OutputFormat::kCsv;
  }
  return invalid_argument("unknown output format '" + std::string(text) +
                          "' (use table, json or csv)");
}

Value Value::integer(std::int64_t n) { return Value(Kind::kInt, std::to_string(n)); }

Value Value::real(double d) {
  if (!std::isfinite(d)) {
    return null();  // JSON has no NaN or infinity
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return Value(Kind::kReal, buf);
}

void render(const Table& table, OutputFormat format, std::ostream& out) {
  switch (format) {
    case OutputFormat::kTable:
      render_table(table, out);
      break;
    case OutputFormat::kJson:
      render_json(table, out);
      break;
    case OutputFormat::kCsv:
      render_csv(table, out);
      break;
  }
}

}  // namespace ktrail::query
