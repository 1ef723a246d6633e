#include "query/row_writer.h"

#include <rapidjson/document.h>
#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/prettywriter.h>

#include <algorithm>
#include <cctype>

#include "core/json.h"

namespace ktrail::query {
namespace {

// A table cell stays on one line: control characters become spaces; nulls print as <none>.
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

// Display width: UTF-8 code points.
std::size_t width_of(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

class TableWriter : public RowWriter {
 public:
  TableWriter(const std::vector<Column>& columns, std::ostream& out) : out_(out) {
    std::vector<std::string> headers;
    for (const auto& c : columns) {
      std::string h = c.header.empty() ? c.key : c.header;
      if (c.header.empty()) {
        for (char& ch : h) {
          ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        }
      }
      widths_.push_back(width_of(h));
      headers.push_back(std::move(h));
    }
    held_.push_back(std::move(headers));
  }
  void add(const std::vector<Value>& row) override {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < widths_.size(); ++i) {
      line.push_back(i < row.size() ? cell_text(row[i]) : "<none>");
    }
    if (measuring_) {
      for (std::size_t i = 0; i < line.size(); ++i) {
        widths_[i] = std::max(widths_[i], width_of(line[i]));
      }
      held_.push_back(std::move(line));
      if (held_.size() > kWidthRows) {
        flush();
      }
      return;
    }
    print(line);
  }
  void flush() override {
    measuring_ = false;
    for (const auto& line : held_) {
      print(line);
    }
    held_.clear();
    out_.flush();
  }
  void finish() override { flush(); }

 private:
  void print(const std::vector<std::string>& line) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) {
        const std::size_t w = width_of(line[i]);
        text.append(w < widths_[i] ? widths_[i] - w + 3 : 3, ' ');
      }
    }
    out_ << text << '\n';
  }

  std::ostream& out_;
  std::vector<std::size_t> widths_;
  std::vector<std::vector<std::string>> held_;  // the header and the first rows
  bool measuring_ = true;
};

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

class CsvWriter : public RowWriter {
 public:
  CsvWriter(const std::vector<Column>& columns, std::ostream& out) : out_(out) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (i > 0) {
        out_ << ',';
      }
      write_csv_field(columns[i].key, out_);
    }
    out_ << "\r\n";
    n_ = columns.size();
  }
  void add(const std::vector<Value>& row) override {
    for (std::size_t i = 0; i < n_; ++i) {
      if (i > 0) {
        out_ << ',';
      }
      if (i < row.size()) {
        write_csv_field(row[i].text(), out_);
      }
    }
    out_ << "\r\n";
  }
  void flush() override { out_.flush(); }
  void finish() override { flush(); }

 private:
  std::ostream& out_;
  std::size_t n_ = 0;
};

class JsonWriter : public RowWriter {
 public:
  JsonWriter(std::vector<Column> columns, std::ostream& out)
      : out_(out), columns_(std::move(columns)), stream_(out), w_(stream_) {
    w_.SetIndent(' ', 2);
    w_.StartArray();
  }
  void add(const std::vector<Value>& row) override {
    w_.StartObject();
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const auto& key = columns_[i].key;
      w_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      const Value v = i < row.size() ? row[i] : Value::null();
      const auto& s = v.text();
      switch (v.kind()) {
        case Value::Kind::kNull:
          w_.Null();
          break;
        case Value::Kind::kString:
          w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
          break;
        case Value::Kind::kInt:
        case Value::Kind::kReal:
          w_.RawValue(s.data(), s.size(), rapidjson::kNumberType);
          break;
        case Value::Kind::kJson: {
          rapidjson::Document d;
          if (!json::parse(s, &d).is_ok()) {
            w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
          } else {
            d.Accept(w_);
          }
          break;
        }
      }
    }
    w_.EndObject();
  }
  void flush() override { out_.flush(); }
  void finish() override {
    w_.EndArray();
    out_ << '\n';
    out_.flush();
  }

 private:
  std::ostream& out_;
  std::vector<Column> columns_;
  rapidjson::OStreamWrapper stream_;
  rapidjson::PrettyWriter<rapidjson::OStreamWrapper> w_;
};

}  // namespace

std::unique_ptr<RowWriter> RowWriter::make(OutputFormat format, std::vector<Column> columns,
                                           std::ostream& out) {
  switch (format) {
    case OutputFormat::kTable:
      return std::make_unique<TableWriter>(columns, out);
    case OutputFormat::kCsv:
      return std::make_unique<CsvWriter>(columns, out);
    case OutputFormat::kJson:
      break;
  }
  return std::make_unique<JsonWriter>(std::move(columns), out);
}

}  // namespace ktrail::query
