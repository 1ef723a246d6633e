// `ktrail export --since T --until T [-o jsonl|jsonl.gz] [--out FILE]`: the stored audit events
// of a time range, sealed and hot, in time order, exactly as stored (after redaction), one JSON
// line each; `ktrail ingest` of the output gives the same events.
#include <zlib.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "core/time.h"
#include "storage/store.h"

namespace ktrail::app {
namespace po = boost::program_options;
namespace {

int fail(const Status& status, int code) {
  std::fprintf(stderr, "ktrail: %s\n", status.message().c_str());
  return code;
}

// Where the lines go: a plain file (stdout) or a gzip stream.
class LineSink {
 public:
  static Result<LineSink> open(const std::string& path, bool gzip) {
    LineSink s;
    if (gzip) {
      s.gz_ = path.empty() ? gzdopen(dup(fileno(stdout)), "wb6") : gzopen(path.c_str(), "wb6");
      if (s.gz_ == nullptr) {
        return io_error("cannot write '" + path + "': " + std::strerror(errno));
      }
      gzbuffer(s.gz_, 1 << 17);
    } else {
      s.file_ = path.empty() ? stdout : std::fopen(path.c_str(), "wb");
      if (s.file_ == nullptr) {
        return io_error("cannot write '" + path + "': " + std::strerror(errno));
      }
      s.own_ = !path.empty();
    }
    return s;
  }
  LineSink(LineSink&& o) noexcept : file_(o.file_), gz_(o.gz_), own_(o.own_) {
    o.file_ = nullptr;
    o.gz_ = nullptr;
    o.own_ = false;
  }
  LineSink& operator=(LineSink&&) = delete;
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;
  ~LineSink() { (void)close(); }

  Status write(std::string_view line) {
    if (gz_ != nullptr) {
      if (gzwrite(gz_, line.data(), static_cast<unsigned>(line.size())) !=
              static_cast<int>(line.size()) ||
          gzputc(gz_, '\n') != '\n') {
        return io_error("gzip write failed");
      }
      return Status::ok();
    }
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
        std::fputc('\n', file_) == EOF) {
      return io_error(std::string("write failed: ") + std::strerror(errno));
    }
    return Status::ok();
  }
  Status close() {
    Status s;
    if (gz_ != nullptr && gzclose(gz_) != Z_OK) {
      s = io_error("gzip close failed");
    }
    gz_ = nullptr;
    if (file_ != nullptr && (own_ ? std::fclose(file_) : std::fflush(file_)) != 0) {
      s = io_error(std::string("write failed: ") + std::strerror(errno));
    }
    file_ = nullptr;
    return s;
  }

 private:
  LineSink() = default;
  std::FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
  bool own_ = false;
};

}  // namespace

int cmd_export(const Args& args) {
  std::string db = "./ktrail.db";
  std::string since_text;
  std::string until_text;
  std::string format = "jsonl";
  std::string out;
  po::options_description desc(
      "usage: ktrail export [options]\n\n"
      "Writes the stored audit events of a time range (sealed and not), in time order, as\n"
      "stored, one JSON line each: an archive `ktrail ingest` reads back.\n\noptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("db", po::value(&db), "store file (default ./ktrail.db)")
    ("since", po::value(&since_text), "first stageTimestamp (RFC 3339 or a duration back); "
     "default: the beginning")
    ("until", po::value(&until_text), "last stageTimestamp; default: the end")
    ("output,o", po::value(&format)->default_value(format), "jsonl or jsonl.gz")
    ("out", po::value(&out), "file to write (default stdout)");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help") != 0u) {
      std::cout << desc << "\n";
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(invalid_argument(e.what()), kExitUsage);
  }
  if (format != "jsonl" && format != "jsonl.gz") {
    return fail(invalid_argument("-o must be jsonl or jsonl.gz"), kExitUsage);
  }
  const Micros now = SystemClock().now();
  Micros since = 0;
  Micros until = INT64_MAX;
  for (auto [text, value] : {std::pair{&since_text, &since}, std::pair{&until_text, &until}}) {
    if (!text->empty()) {
      auto t = parse_time_arg(*text, now);
      if (!t) {
        return fail(t.status(), kExitUsage);
      }
      *value = *t;
    }
  }
  StoreOptions options;
  options.read_only = true;
  auto store = Store::open(db, options);
  if (!store) {
    return fail(store.status(), kExitFailure);
  }
  auto sink = LineSink::open(out, format == "jsonl.gz");
  if (!sink) {
    return fail(sink.status(), kExitFailure);
  }
  std::int64_t lines = 0;
  Status s = (*store)->export_audit(since, until, [&](std::string_view event) {
    ++lines;
    return sink->write(event);
  });
  if (Status c = sink->close(); s.is_ok()) {
    s = c;
  }
  if (!s.is_ok()) {
    return fail(s, kExitFailure);
  }
  std::fprintf(stderr, "exported %lld audit events\n", static_cast<long long>(lines));
  return kExitOk;
}

}  // namespace ktrail::app
