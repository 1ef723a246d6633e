#include "query/row_writer.h"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>

#include "core/json.h"

namespace ktrail::query {

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

std::size_t display_width(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

std::string cut_to_width(const std::string& s, std::size_t width) {
  if (display_width(s) <= width) {
    return s;
  }
  if (width == 0) {
    return "";
  }
  // Keep width-1 code points, then the ellipsis.
  std::size_t points = 0;
  std::size_t end = 0;
  for (; end < s.size(); ++end) {
    if ((static_cast<unsigned char>(s[end]) & 0xC0) != 0x80) {
      if (points == width - 1) {
        break;
      }
      ++points;
    }
  }
  return s.substr(0, end) + "\xE2\x80\xA6";  // U+2026
}

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

std::vector<std::size_t> fit_widths(std::vector<std::size_t> widths,
                                    const std::vector<std::size_t>& floors, std::size_t max_line) {
  if (widths.empty() || max_line == 0) {
    return widths;
  }
  std::size_t total = 3 * (widths.size() - 1);
  for (std::size_t w : widths) {
    total += w;
  }
  // Narrow the widest column above its floor, one column at a time, until the line fits or
  // nothing can give.
  while (total > max_line) {
    std::size_t widest = widths.size();
    for (std::size_t i = 0; i < widths.size(); ++i) {
      if (widths[i] > floors[i] && (widest == widths.size() || widths[i] > widths[widest])) {
        widest = i;
      }
    }
    if (widest == widths.size()) {
      break;
    }
    // Down to the next narrower width (or the floor, or just enough), in one step.
    std::size_t next = floors[widest];
    for (std::size_t i = 0; i < widths.size(); ++i) {
      if (widths[i] < widths[widest]) {
        next = std::max(next, widths[i]);
      }
    }
    const std::size_t give = std::min(widths[widest] - next, total - max_line);
    widths[widest] -= std::max<std::size_t>(give, 1);
    total -= std::max<std::size_t>(give, 1);
  }
  return widths;
}

namespace {

class TableWriter : public RowWriter {
 public:
  TableWriter(const std::vector<Column>& columns, std::ostream& out, RowWriterOptions options)
      : out_(out), options_(options) {
    std::vector<std::string> headers;
    for (const auto& c : columns) {
      headers.push_back(header_of(c));
      widths_.push_back(display_width(headers.back()));
    }
    cell_width_.assign(columns.size(), 0);
    fixed_.assign(columns.size(), true);
    values_.assign(columns.size(), 0);
    held_.push_back(std::move(headers));
  }
  void add(const std::vector<Value>& row) override {
    std::vector<std::string> line;
    line.reserve(widths_.size());
    for (std::size_t i = 0; i < widths_.size(); ++i) {
      line.push_back(i < row.size() ? cell_text(row[i]) : "<none>");
    }
    if (measuring_) {
      for (std::size_t i = 0; i < line.size(); ++i) {
        const std::size_t w = display_width(line[i]);
        widths_[i] = std::max(widths_[i], w);
        // A column whose values are single words of one width (times, IDs) is cut only as a
        // last resort.
        if (line[i] != "<none>") {
          fixed_[i] = fixed_[i] && (cell_width_[i] == 0 || cell_width_[i] == w) &&
                      line[i].find(' ') == std::string::npos;
          cell_width_[i] = w;
          ++values_[i];
        }
      }
      held_.push_back(std::move(line));
      if (held_.size() > options_.measure_rows) {
        flush();
      }
      return;
    }
    print(line);
  }
  void flush() override {
    if (measuring_) {
      measuring_ = false;
      std::vector<std::size_t> floors;
      std::vector<std::size_t> last_resort;
      for (std::size_t i = 0; i < widths_.size(); ++i) {
        last_resort.push_back(std::min<std::size_t>(widths_[i], 4));
        floors.push_back(fixed_[i] && values_[i] >= 3 ? widths_[i] : last_resort.back());
      }
      widths_ = fit_widths(fit_widths(widths_, floors, options_.max_line), last_resort,
                           options_.max_line);
    }
    for (const auto& line : held_) {
      print(line);
    }
    held_.clear();
    out_.flush();
  }
  void finish() override { flush(); }

 private:
  void print(const std::vector<std::string>& line) {
    text_.clear();
    for (std::size_t i = 0; i < line.size(); ++i) {
      const std::string* cell = &line[i];
      std::string cut;
      if (options_.max_line > 0 && display_width(*cell) > widths_[i]) {
        cut = cut_to_width(*cell, widths_[i]);
        cell = &cut;
      }
      text_ += *cell;
      if (i + 1 < line.size()) {
        const std::size_t w = display_width(*cell);
        text_.append(w < widths_[i] ? widths_[i] - w + 3 : 3, ' ');
      }
    }
    text_ += '\n';
    out_ << text_;
  }

  std::ostream& out_;
  RowWriterOptions options_;
  std::vector<std::size_t> widths_;
  std::vector<std::size_t> cell_width_;  // the width of the column's last value
  std::vector<bool> fixed_;              // every value so far had one width
  std::vector<std::size_t> values_;      // values other than <none> seen
  std::vector<std::vector<std::string>> held_;  // the header and the first rows
  bool measuring_ = true;
  std::string text_;  // one line, reused
};

// Output is gathered in a string and written in large pieces: a stream operation per field or
// per character costs more than the formatting itself.
constexpr std::size_t kWriteBytes = 64 << 10;

const char* data_of(const std::string& s) { return s.data(); }
std::size_t size_of(const std::string& s) { return s.size(); }
void clear(std::string* s) { s->clear(); }
const char* data_of(const rapidjson::StringBuffer& b) { return b.GetString(); }
std::size_t size_of(const rapidjson::StringBuffer& b) { return b.GetSize(); }
void clear(rapidjson::StringBuffer* b) { b->Clear(); }

// A writer whose output gathers in `buffer_` (a std::string, or rapidjson's buffer for its
// writers) and goes out in pieces of kWriteBytes, at flush() and at destruction.
template <typename Buffer>
class BufferedWriter : public RowWriter {
 public:
  explicit BufferedWriter(std::ostream& out) : out_(out) {}
  ~BufferedWriter() override { write(); }
  void flush() override {
    write();
    out_.flush();
  }
  void finish() override { flush(); }

 protected:
  // After each row: writes once enough has gathered.
  void row_done() {
    if (size_of(buffer_) >= kWriteBytes) {
      write();
    }
  }
  Buffer buffer_;

 private:
  void write() {
    out_.write(data_of(buffer_), static_cast<std::streamsize>(size_of(buffer_)));
    clear(&buffer_);
  }
  std::ostream& out_;
};

void write_csv_field(std::string_view s, std::string* out) {
  // One pass over the bytes (find_first_of would search the four characters at every byte).
  const bool plain = std::none_of(s.begin(), s.end(), [](char c) {
    return c == ',' || c == '"' || c == '\r' || c == '\n';
  });
  if (plain) {
    out->append(s);
    return;
  }
  out->push_back('"');
  for (char c : s) {
    if (c == '"') {
      out->push_back('"');
    }
    out->push_back(c);
  }
  out->push_back('"');
}

class CsvWriter : public BufferedWriter<std::string> {
 public:
  CsvWriter(const std::vector<Column>& columns, std::ostream& out) : BufferedWriter(out) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (i > 0) {
        buffer_.push_back(',');
      }
      write_csv_field(columns[i].key, &buffer_);
    }
    buffer_ += "\r\n";
    n_ = columns.size();
  }
  void add(const std::vector<Value>& row) override {
    for (std::size_t i = 0; i < n_; ++i) {
      if (i > 0) {
        buffer_.push_back(',');
      }
      if (i < row.size()) {
        write_csv_field(row[i].text(), &buffer_);
      }
    }
    buffer_ += "\r\n";
    row_done();
  }

 private:
  std::size_t n_ = 0;
};

// Whether `json` is already what a compact writer would write for it: an empty array, or an
// array of strings of printable ASCII without quotes or backslashes, with nothing between
// the items but commas (the groups and source IPs of audit rows). Such text can be written as
// it is, without parsing it.
bool is_compact_string_array(std::string_view json) {
  if (json.size() < 2 || json.front() != '[' || json.back() != ']') {
    return false;
  }
  if (json.size() == 2) {
    return true;
  }
  std::size_t at = 1;
  for (;;) {
    if (json[at] != '"') {
      return false;
    }
    ++at;
    while (at < json.size() && json[at] != '"') {
      const unsigned char c = static_cast<unsigned char>(json[at]);
      if (c < 0x20 || c > 0x7E || c == '\\') {
        return false;
      }
      ++at;
    }
    if (at + 1 >= json.size()) {
      return false;
    }
    ++at;  // the closing quote
    if (json[at] == ']') {
      return at + 1 == json.size();
    }
    if (json[at] != ',') {
      return false;
    }
    ++at;
  }
}

// Writes JSON text through `w` as a parsed document would write it; text that does not parse
// is written as a string.
template <typename Writer>
void write_json_value(const std::string& s, Writer* w) {
  rapidjson::Document d;
  if (!json::parse(s, &d).is_ok()) {
    w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  } else {
    d.Accept(*w);
  }
}

// Writes one row as a JSON object with any rapidjson writer (`compact`: a writer without
// indentation, for which compact JSON text is written as it is).
template <typename Writer>
void write_object(const std::vector<Column>& columns, const std::vector<Value>& row, Writer* w,
                  bool compact) {
  static const Value kNull;
  w->StartObject();
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const auto& key = columns[i].key;
    w->Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    const Value& v = i < row.size() ? row[i] : kNull;
    const auto& s = v.text();
    switch (v.kind()) {
      case Value::Kind::kNull:
        w->Null();
        break;
      case Value::Kind::kString:
        w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
        break;
      case Value::Kind::kInt:
      case Value::Kind::kReal:
        w->RawValue(s.data(), s.size(), rapidjson::kNumberType);
        break;
      case Value::Kind::kJson:
        // Re-emitted through a document so the layout stays consistent (compact text that
        // is already in that layout goes as it is).
        if (compact && is_compact_string_array(s)) {
          w->RawValue(s.data(), s.size(), rapidjson::kArrayType);
        } else {
          write_json_value(s, w);
        }
        break;
    }
  }
  w->EndObject();
}

class JsonWriter : public BufferedWriter<rapidjson::StringBuffer> {
 public:
  JsonWriter(std::vector<Column> columns, std::ostream& out)
      : BufferedWriter(out), columns_(std::move(columns)), w_(buffer_) {
    w_.SetIndent(' ', 2);
    w_.StartArray();
  }
  void add(const std::vector<Value>& row) override {
    write_object(columns_, row, &w_, false);
    row_done();
  }
  void finish() override {
    w_.EndArray();
    buffer_.Put('\n');
    flush();
  }

 private:
  std::vector<Column> columns_;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w_;
};

class JsonLinesWriter : public BufferedWriter<rapidjson::StringBuffer> {
 public:
  JsonLinesWriter(std::vector<Column> columns, std::ostream& out)
      : BufferedWriter(out), columns_(std::move(columns)) {}
  void add(const std::vector<Value>& row) override {
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer_);
    write_object(columns_, row, &w, true);
    buffer_.Put('\n');
    row_done();
  }

 private:
  std::vector<Column> columns_;
};

class YamlWriter : public RowWriter {
 public:
  YamlWriter(std::vector<Column> columns, std::ostream& out)
      : out_(out), columns_(std::move(columns)) {}
  void add(const std::vector<Value>& row) override {
    any_ = true;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      out_ << (i == 0 ? "- " : "  ");
      write_key(columns_[i].key);
      out_ << ": ";
      static const Value kNull;
      const Value& v = i < row.size() ? row[i] : kNull;
      switch (v.kind()) {
        case Value::Kind::kNull:
          out_ << "null";
          break;
        case Value::Kind::kInt:
        case Value::Kind::kReal:
          out_ << v.text();
          break;
        case Value::Kind::kString:
          write_scalar(v.text());
          break;
        case Value::Kind::kJson: {
          // JSON is YAML's flow style: compact and valid as is.
          rapidjson::Document d;
          if (is_compact_string_array(v.text())) {
            out_ << v.text();
          } else if (!json::parse(v.text(), &d).is_ok()) {
            write_scalar(v.text());
          } else {
            rapidjson::StringBuffer b;
            rapidjson::Writer<rapidjson::StringBuffer> w(b);
            d.Accept(w);
            out_.write(b.GetString(), static_cast<std::streamsize>(b.GetSize()));
          }
          break;
        }
      }
      out_ << '\n';
    }
  }
  void flush() override { out_.flush(); }
  void finish() override {
    if (!any_) {
      out_ << "[]\n";
    }
    flush();
  }

 private:
  // Keys of letters and digits are written plain; anything else quoted.
  void write_key(const std::string& key) {
    const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    });
    if (plain) {
      out_ << key;
    } else {
      write_scalar(key);
    }
  }
  // A JSON string is a valid YAML double-quoted scalar.
  void write_scalar(const std::string& s) {
    buffer_.Clear();
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer_);
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    out_.write(buffer_.GetString(), static_cast<std::streamsize>(buffer_.GetSize()));
  }

  std::ostream& out_;
  std::vector<Column> columns_;
  rapidjson::StringBuffer buffer_;
  bool any_ = false;
};

// One row as `-o json` writes it, as a document (what a template runs on): written compact and
// read back, so that its values are exactly the json's.
void row_document(const std::vector<Column>& columns, const std::vector<Value>& row,
                  rapidjson::Document* d) {
  rapidjson::StringBuffer text;
  rapidjson::Writer<rapidjson::StringBuffer> w(text);
  write_object(columns, row, &w, true);
  d->Parse(text.GetString(), text.GetSize());
}

class NameWriter : public BufferedWriter<std::string> {
 public:
  NameWriter(const std::vector<Column>& columns, std::ostream& out, RowNames names)
      : BufferedWriter(out), names_(std::move(names)) {
    auto index_of = [&](const std::string& key) {
      for (std::size_t i = 0; i < columns.size(); ++i) {
        if (columns[i].key == key) {
          return static_cast<long>(i);
        }
      }
      return -1L;
    };
    kind_at_ = names_.kind_key.empty() ? -1 : index_of(names_.kind_key);
    for (const auto& key : names_.id_keys) {
      id_at_.push_back(index_of(key));
    }
  }
  void add(const std::vector<Value>& row) override {
    auto at = [&](long i) -> const std::string& {
      static const std::string kNone;
      return i >= 0 && static_cast<std::size_t>(i) < row.size() ? row[static_cast<std::size_t>(i)].text()
                                                                 : kNone;
    };
    buffer_ += kind_at_ >= 0 ? at(kind_at_) : names_.kind;
    for (long i : id_at_) {
      if (!at(i).empty()) {
        buffer_ += '/';
        buffer_ += at(i);
      }
    }
    buffer_ += '\n';
    row_done();
  }

 private:
  RowNames names_;
  long kind_at_ = -1;
  std::vector<long> id_at_;
};

class JsonPathWriter : public BufferedWriter<std::string> {
 public:
  JsonPathWriter(std::vector<Column> columns, std::ostream& out,
                 std::shared_ptr<const JsonPath> path)
      : BufferedWriter(out), columns_(std::move(columns)), path_(std::move(path)) {
    if (path_->streams_items()) {
      path_->begin(&buffer_);
    } else {
      list_.SetObject();
      list_.AddMember("kind", "List", list_.GetAllocator());
      list_.AddMember("items", rapidjson::Value(rapidjson::kArrayType), list_.GetAllocator());
    }
  }
  void add(const std::vector<Value>& row) override {
    if (path_->streams_items()) {
      rapidjson::Document d;
      row_document(columns_, row, &d);
      path_->item(d, &first_, &buffer_);
      row_done();
      return;
    }
    rapidjson::Document d(&list_.GetAllocator());
    row_document(columns_, row, &d);
    list_["items"].PushBack(static_cast<rapidjson::Value&>(d), list_.GetAllocator());
  }
  void finish() override {
    if (path_->streams_items()) {
      path_->end(&buffer_);
    } else {
      path_->execute(list_, &buffer_);
    }
    flush();
  }

 private:
  std::vector<Column> columns_;
  std::shared_ptr<const JsonPath> path_;
  rapidjson::Document list_;  // the whole list, when the template needs it
  bool first_ = true;
};

}  // namespace

std::unique_ptr<RowWriter> RowWriter::make(OutputFormat format, std::vector<Column> columns,
                                           std::ostream& out, RowWriterOptions options) {
  switch (format) {
    case OutputFormat::kTable:
      return std::make_unique<TableWriter>(columns, out, options);
    case OutputFormat::kWide:
      options.max_line = 0;
      return std::make_unique<TableWriter>(columns, out, options);
    case OutputFormat::kCsv:
      return std::make_unique<CsvWriter>(columns, out);
    case OutputFormat::kJsonl:
      return std::make_unique<JsonLinesWriter>(std::move(columns), out);
    case OutputFormat::kYaml:
      return std::make_unique<YamlWriter>(std::move(columns), out);
    case OutputFormat::kName:
      return std::make_unique<NameWriter>(columns, out, std::move(options.names));
    case OutputFormat::kJsonPath:
      if (options.jsonpath) {
        return std::make_unique<JsonPathWriter>(std::move(columns), out, std::move(options.jsonpath));
      }
      break;  // no template given: json
    case OutputFormat::kJson:
      break;
  }
  return std::make_unique<JsonWriter>(std::move(columns), out);
}

}  // namespace ktrail::query
