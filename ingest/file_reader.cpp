#include "ingest/file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/json.h"
#include "ingest/yaml_input.h"

namespace ktrail::ingest {
namespace {

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

// A file or stdin, read through zlib, which passes uncompressed input through unchanged.
class Input {
 public:
  static Result<Input> open(const std::string& path) {
    Input in;
    in.name_ = path == "-" ? "stdin" : path;
    int fd = path == "-" ? dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return io_error("cannot open " + in.name_ + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      in.total_ = static_cast<std::uint64_t>(st.st_size);
    }
    if (S_ISDIR(st.st_mode)) {
      close(fd);
      return io_error(in.name_ + " is a directory");
    }
    gzFile gz = gzdopen(fd, "rb");
    if (gz == nullptr) {
      close(fd);
      return io_error("cannot read " + in.name_);
    }
    in.gz_.reset(gz);
    gzbuffer(gz, 256 * 1024);
    return in;
  }

  // Appends up to `max` bytes to `out`; 0 at the end of the input.
  Result<std::size_t> read(std::string* out, std::size_t max) {
    const std::size_t old = out->size();
    out->resize(old + max);
    const int n = gzread(gz_.get(), out->data() + old, static_cast<unsigned>(max));
    if (n < 0) {
      int code = 0;
      const char* why = gzerror(gz_.get(), &code);
      out->resize(old);
      return io_error("cannot read " + name_ + ": " + why);
    }
    out->resize(old + static_cast<std::size_t>(n));
    return static_cast<std::size_t>(n);
  }

  std::uint64_t position() {
    const auto off = gzoffset(gz_.get());
    return off < 0 ? 0 : static_cast<std::uint64_t>(off);
  }
  std::uint64_t total() const { return total_; }
  const std::string& name() const { return name_; }

 private:
  GzHandle gz_;
  std::string name_;
  std::uint64_t total_ = 0;
};

constexpr std::size_t kChunk = 1u << 20;
constexpr std::size_t kPeekBytes = 64u << 10;  // what kind detection looks at

// The value after `key` is reached: a quote (JSON) and optional spaces, then ':'.
bool has_key(std::string_view text, std::string_view key) {
  for (std::size_t at = text.find(key); at != std::string_view::npos;
       at = text.find(key, at + 1)) {
    std::size_t i = at + key.size();
    if (i < text.size() && text[i] == '"') {
      ++i;
    }
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
      ++i;
    }
    if (i < text.size() && text[i] == ':') {
      return true;
    }
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  return s;
}

std::size_t items_of(const Batch& b) {
  return b.audit.size() + b.events.size() + b.rejected.size();
}

class Replayer {
 public:
  Replayer(Input in, const PayloadDecoder* decoder, const ReplayOptions& options,
           const ReplayCallbacks& callbacks)
      : in_(std::move(in)), decoder_(decoder), options_(options), callbacks_(callbacks) {}
  // The decoder of `kind`, or, without one, of the kind the input's first bytes show.
  Replayer(Input in, const KindDecoders* decoders, std::optional<PayloadKind> kind,
           const ReplayOptions& options, const ReplayCallbacks& callbacks)
      : in_(std::move(in)), decoders_(decoders), options_(options), callbacks_(callbacks) {
    if (kind) {
      decoder_ = *kind == PayloadKind::kAudit ? decoders->audit.get() : decoders->events.get();
    }
  }

  Status run() {
    // Fill until the first non-blank line is complete (or the input ends), and, to decide the
    // kind, until a peek's worth is buffered: stdin cannot be read twice.
    std::size_t first_end = std::string::npos;
    for (;;) {
      const std::size_t start = buffer_.find_first_not_of(" \t\r\n");
      if (start != std::string::npos) {
        first_end = buffer_.find('\n', start);
        if (first_end != std::string::npos &&
            (decoder_ != nullptr || buffer_.size() >= kPeekBytes)) {
          break;
        }
      }
      if (buffer_.size() > options_.max_line_bytes) {
        break;
      }
      auto n = in_.read(&buffer_, kChunk);
      if (!n) {
        return n.status();
      }
      if (*n == 0) {
        eof_ = true;
        break;
      }
    }
    const std::size_t start = buffer_.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) {
      return finish();  // empty input
    }
    if (decoder_ == nullptr) {
      const PayloadKind kind = payload_kind_of(std::string_view(buffer_).substr(0, kPeekBytes));
      decoder_ = kind == PayloadKind::kAudit ? decoders_->audit.get() : decoders_->events.get();
    }
    if (first_end == std::string::npos) {
      first_end = buffer_.find('\n', start);
    }
    if (looks_like_yaml(std::string_view(buffer_).substr(0, kPeekBytes))) {
      return read_yaml();
    }
    std::string_view first(buffer_.data() + start,
                           (first_end == std::string::npos ? buffer_.size() : first_end) - start);
    rapidjson::Document probe;
    first = trim(first);
    // A first line that is a complete JSON value means JSON lines. So does one that looks like
    // a whole object but is broken, or a broken one followed by whole records: one corrupt
    // line (cut short, say) must not turn the log into one document and lose the rest.
    bool one_per_line = json::parse(first, &probe).is_ok() ||
                        (first.size() > 1 && first.front() == '{' && first.back() == '}');
    if (!one_per_line && first_end != std::string::npos && first.front() == '{' &&
        first.size() > 1) {
      auto later = later_line_is_a_record(first_end + 1);
      if (!later) {
        return later.status();
      }
      one_per_line = *later;
    }
    return one_per_line ? read_lines() : read_document();
  }

 private:
  // Whether one of the next few lines after `from` (reading on to a peek's worth if need be)
  // is a whole, non-empty JSON object written from the line's first column, as a log's records
  // are. A pretty-printed document has none: its nested objects are indented and its own
  // braces stand on lines of their own.
  Result<bool> later_line_is_a_record(std::size_t from) {
    while (!eof_ && buffer_.size() < from + kPeekBytes) {
      auto n = in_.read(&buffer_, kChunk);
      if (!n) {
        return n.status();
      }
      eof_ = *n == 0;
    }
    constexpr int kLinesLooked = 8;
    std::size_t pos = from;
    for (int seen = 0; seen < kLinesLooked && pos < buffer_.size();) {
      std::size_t nl = buffer_.find('\n', pos);
      if (nl == std::string::npos) {
        if (!eof_) {
          break;  // a line longer than the peek: not looked at
        }
        nl = buffer_.size();
      }
      const std::string_view raw(buffer_.data() + pos, nl - pos);
      pos = nl + 1;
      const std::string_view text = trim(raw);
      if (text.empty()) {
        continue;
      }
      ++seen;
      rapidjson::Document probe;
      if (raw.front() == '{' && text.size() > 2 && json::parse(text, &probe).is_ok() &&
          probe.IsObject() && !probe.ObjectEmpty()) {
        return true;
      }
    }
    return false;
  }

  Status read_lines() {
    std::size_t pos = 0;
    for (;;) {
      const std::size_t nl = buffer_.find('\n', pos);
      if (nl != std::string::npos) {
        KTRAIL_RETURN_IF_ERROR(line(std::string_view(buffer_).substr(pos, nl - pos)));
        pos = nl + 1;
        continue;
      }
      buffer_.erase(0, pos);
      pos = 0;
      if (eof_) {
        break;
      }
      if (buffer_.size() > options_.max_line_bytes) {
        KTRAIL_RETURN_IF_ERROR(skip_long_line());
        continue;
      }
      auto n = in_.read(&buffer_, kChunk);
      if (!n) {
        return n.status();
      }
      eof_ = *n == 0;
      report(false);
    }
    if (!trim(buffer_).empty()) {
      KTRAIL_RETURN_IF_ERROR(line(buffer_));  // the last line, without its newline
    }
    return finish();
  }

  // Rejects an over-long line without holding it: drops bytes up to its newline.
  Status skip_long_line() {
    ++line_no_;
    current_.rejected.push_back({in_.name() + ":" + std::to_string(line_no_) +
                                     ": line longer than " +
                                     std::to_string(options_.max_line_bytes) + " bytes",
                                 buffer_.substr(0, 1024)});
    for (;;) {
      const std::size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        buffer_.erase(0, nl + 1);
        return flush_if_full();
      }
      buffer_.clear();
      auto n = in_.read(&buffer_, kChunk);
      if (!n) {
        return n.status();
      }
      if (*n == 0) {
        eof_ = true;
        return flush_if_full();
      }
    }
  }

  Status line(std::string_view text) {
    ++line_no_;
    text = trim(text);
    if (text.empty()) {
      return Status::ok();
    }
    if (text.size() > options_.max_line_bytes) {
      current_.rejected.push_back({in_.name() + ":" + std::to_string(line_no_) +
                                       ": line longer than " +
                                       std::to_string(options_.max_line_bytes) + " bytes",
                                   std::string(text.substr(0, 1024))});
      return flush_if_full();
    }
    const std::size_t rejected_before = current_.rejected.size();
    decoder_->decode_line(text, &current_);
    for (std::size_t i = rejected_before; i < current_.rejected.size(); ++i) {
      auto& reason = current_.rejected[i].reason;
      reason = in_.name() + ":" + std::to_string(line_no_) + ": " + reason;
    }
    return flush_if_full();
  }

  // Reads the rest of the input (up to max_document_bytes) into the buffer.
  Status read_all() {
    for (;;) {
      if (buffer_.size() > options_.max_document_bytes) {
        return invalid_argument(in_.name() + ": JSON document larger than " +
                                std::to_string(options_.max_document_bytes) + " bytes");
      }
      if (eof_) {
        break;
      }
      auto n = in_.read(&buffer_, kChunk);
      if (!n) {
        return n.status();
      }
      eof_ = *n == 0;
      report(false);
    }
    return Status::ok();
  }

  // YAML documents (yaml_input.h), each decoded as the JSON document it stands for. A document
  // that is not a record of the kind becomes a rejected item; YAML that does not parse stops
  // the file with an error (what came before it is kept).
  Status read_yaml() {
    KTRAIL_RETURN_IF_ERROR(read_all());
    Status s = for_each_yaml_document(
        buffer_, options_.max_document_bytes, [&](YamlDocument doc) -> Status {
          const std::string where = in_.name() + ": YAML document " + std::to_string(doc.index) +
                                    " (line " + std::to_string(doc.line) + ")";
          if (!doc.error.empty()) {
            current_.rejected.push_back({where + ": " + doc.error, ""});
            return flush_if_full();
          }
          Batch one;
          Status decoded = decoder_->decode_document(doc.json, &one);
          if (!decoded.is_ok()) {
            current_.rejected.push_back({where + ": " + decoded.message(), std::move(doc.json)});
            return flush_if_full();
          }
          for (auto& r : one.rejected) {
            r.reason = where + ": " + r.reason;
          }
          return take(std::move(one));
        });
    if (!s.is_ok()) {
      KTRAIL_RETURN_IF_ERROR(flush());
      return Status(s.code(), in_.name() + ": " + s.message());
    }
    buffer_.clear();
    return finish();
  }

  Status read_document() {
    KTRAIL_RETURN_IF_ERROR(read_all());
    Batch all;
    Status decoded = decoder_->decode_document(buffer_, &all);
    if (!decoded.is_ok()) {
      return Status(decoded.code(), in_.name() + ": " + decoded.message());
    }
    buffer_.clear();
    buffer_.shrink_to_fit();
    for (auto& r : all.rejected) {
      r.reason = in_.name() + ": " + r.reason;
    }
    KTRAIL_RETURN_IF_ERROR(take(std::move(all)));
    return finish();
  }

  // Splits `all` into batches of batch_size, keeping file order within each kind.
  Status take(Batch all) {
    for (auto& e : all.audit) {
      current_.audit.push_back(std::move(e));
      KTRAIL_RETURN_IF_ERROR(flush_if_full());
    }
    for (auto& e : all.events) {
      current_.events.push_back(std::move(e));
      KTRAIL_RETURN_IF_ERROR(flush_if_full());
    }
    for (auto& r : all.rejected) {
      current_.rejected.push_back(std::move(r));
      KTRAIL_RETURN_IF_ERROR(flush_if_full());
    }
    return Status::ok();
  }

  Status flush_if_full() {
    if (items_of(current_) < options_.batch_size) {
      return Status::ok();
    }
    return flush();
  }

  Status flush() {
    if (items_of(current_) == 0) {
      return Status::ok();
    }
    items_ += items_of(current_);
    current_.origin = "file " + in_.name();
    Batch out = std::move(current_);
    current_ = Batch();
    KTRAIL_RETURN_IF_ERROR(callbacks_.emit(std::move(out)));
    report(false);
    return Status::ok();
  }

  Status finish() {
    KTRAIL_RETURN_IF_ERROR(flush());
    report(true);
    return Status::ok();
  }

  void report(bool final) {
    if (!callbacks_.progress) {
      return;
    }
    const std::uint64_t pos = in_.position();
    if (!final && pos < last_report_ + (64u << 10)) {
      return;
    }
    last_report_ = pos;
    callbacks_.progress({pos, in_.total(), items_});
  }

  Input in_;
  const KindDecoders* decoders_ = nullptr;
  const PayloadDecoder* decoder_ = nullptr;
  const ReplayOptions& options_;
  const ReplayCallbacks& callbacks_;
  std::string buffer_;
  bool eof_ = false;
  std::size_t line_no_ = 0;
  Batch current_;
  std::uint64_t items_ = 0;
  std::uint64_t last_report_ = 0;
};

}  // namespace

PayloadKind payload_kind_of(std::string_view head) {
  // Audit logs as managed services export them (ingest/managed_formats.h) may carry Events in
  // their request bodies; they are audit logs all the same.
  if (has_key(head, "auditID") || has_key(head, "protoPayload") ||
      head.find("\"kube-audit") != std::string_view::npos || has_key(head, "logEvents")) {
    return PayloadKind::kAudit;
  }
  if (has_key(head, "involvedObject") || has_key(head, "regarding")) {
    return PayloadKind::kEvents;
  }
  return PayloadKind::kAudit;
}

Result<PayloadKind> detect_payload_kind(const std::string& path) {
  if (path == "-") {
    return PayloadKind::kAudit;  // stdin cannot be peeked and re-read: replay_input decides
  }
  auto in = Input::open(path);
  if (!in) {
    return in.status();
  }
  std::string peek;
  auto n = in->read(&peek, kPeekBytes);
  if (!n) {
    return n.status();
  }
  return payload_kind_of(peek);
}

Status replay_file(const std::string& path, const PayloadDecoder& decoder,
                   const ReplayOptions& options, const ReplayCallbacks& callbacks) {
  if (options.batch_size == 0) {
    return invalid_argument("batch size must be positive");
  }
  auto in = Input::open(path);
  if (!in) {
    return in.status();
  }
  Replayer replayer(std::move(*in), &decoder, options, callbacks);
  return replayer.run();
}

Status replay_input(const std::string& path, std::optional<PayloadKind> kind,
                    const KindDecoders& decoders, const ReplayOptions& options,
                    const ReplayCallbacks& callbacks) {
  if (options.batch_size == 0) {
    return invalid_argument("batch size must be positive");
  }
  if (!decoders.audit || !decoders.events) {
    return invalid_argument("a decoder for each kind is needed");
  }
  auto in = Input::open(path);
  if (!in) {
    return in.status();
  }
  Replayer replayer(std::move(*in), &decoders, kind, options, callbacks);
  return replayer.run();
}

}  // namespace ktrail::ingest
