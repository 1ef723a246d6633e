// `ktrail ingest FILE...`: replays audit logs into the store through the same pipeline
// (processors, store) as `serve`, then prints a summary. Batches wait for room in the
// pipeline's bounded queue, so reading, decoding and writing overlap while memory stays bounded.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "app/cli.h"
#include "app/detect_stage.h"
#include "app/commands.h"
#include "app/logging.h"
#include "app/pipeline.h"
#include "app/policy_record.h"
#include "app/processing_flags.h"
#include "app/processor_chain.h"
#include "app/query_args.h"
#include "app/shards.h"
#include "core/cluster.h"
#include "ingest/file_reader.h"
#include "ingest/managed_formats.h"
#include "storage/store.h"

namespace ktrail::app {
namespace {

namespace po = boost::program_options;

constexpr const char* kIngestExitCodes =
    "exit codes: 0 done; 1 an input or the store failed; 2 wrong command line; 3 items were\n"
    "rejected and none was accepted (or any was rejected, with --fail-on-reject)\n";

int fail(const Status& status, int code) {
  std::fprintf(stderr, "ktrail: %s\n", status.message().c_str());
  return code;
}

// Counts outcomes and the batches in flight (the pipeline's queue bounds how many there are).
class Tally {
 public:
  void begin() {
    std::lock_guard lock(mutex_);
    ++in_flight_;
  }
  void cancel() { finish(); }
  void done(const Status& status, const BatchOutcome& outcome) {
    {
      std::lock_guard lock(mutex_);
      if (status.is_ok()) {
        total_ += outcome;
      } else if (error_.is_ok()) {
        error_ = status;
      }
    }
    finish();
  }
  void wait_all() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }
  BatchOutcome total() {
    std::lock_guard lock(mutex_);
    return total_;
  }
  Status error() {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void finish() {
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
    }
    cv_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;
  BatchOutcome total_;
  Status error_;
};

// "\r<file>: 12.3 of 45.6 MB (27%), 12345 items" on a terminal, redrawn at most 5 times a second.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  void update(const std::string& name, const ingest::ReplayProgress& p, bool final) {
    if (!enabled_) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(200)) {
      return;
    }
    last_ = now;
    const double mb = static_cast<double>(p.bytes) / 1e6;
    if (p.total_bytes > 0) {
      std::fprintf(stderr, "\r%s: %.1f of %.1f MB (%.0f%%), %llu items   ", name.c_str(), mb,
                   static_cast<double>(p.total_bytes) / 1e6,
                   100.0 * static_cast<double>(p.bytes) / static_cast<double>(p.total_bytes),
                   static_cast<unsigned long long>(p.items));
    } else {
      std::fprintf(stderr, "\r%s: %.1f MB, %llu items   ", name.c_str(), mb,
                   static_cast<unsigned long long>(p.items));
    }
    if (final) {
      std::fprintf(stderr, "\n");
    }
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_{};
};

// Beside `ktrail serve` on the same store, a transaction may wait for the server's longer than
// SQLite's busy timeout (5 s): the group is tried again, for up to two minutes, rather than
// lost. Only "the database is locked/busy" is retried; the write failed before anything of
// the group was written (BEGIN IMMEDIATE is where another writer makes us wait).
Result<std::vector<BatchOutcome>> write_waiting_for_other_writers(
    Store& store, const std::vector<const Batch*>& group) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  bool said = false;
  auto pause = std::chrono::milliseconds(20);
  for (;;) {
    auto written = store.write_batches(group);
    const std::string why = written ? std::string() : written.status().message();
    const bool busy = !written && written.status().code() == ErrorCode::kDatabase &&
                      (why.find("locked") != std::string::npos ||
                       why.find("busy") != std::string::npos);
    if (!busy || std::chrono::steady_clock::now() > deadline) {
      return written;
    }
    if (!said) {
      std::fprintf(stderr, "ktrail: another writer holds the store; waiting for it (%s)\n",
                   why.c_str());
      said = true;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace

int cmd_ingest(const Args& args) {
  ServeOptions serve;  // the pipeline options ingest shares with serve
  std::vector<std::string> files;
  std::string kind_text = "auto";
  std::string format_text = "auto";
  std::string cluster(kDefaultCluster);
  std::string output = "text";
  std::string progress_mode = "auto";
  std::size_t batch_size = 400;
  bool fail_on_reject = false;
  po::options_description desc("ktrail ingest options");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("db", po::value(&serve.db)->default_value(serve.db), "SQLite store file")
    ("kind", po::value(&kind_text)->default_value(kind_text),
     "auto, audit or events (auto looks at each input's first bytes, stdin's too)")
    ("format", po::value(&format_text)->default_value(format_text),
     "audit log format: auto, k8s, eks, gke or aks (docs/managed-clusters.md)")
    ("cluster", po::value(&cluster)->default_value(cluster),
     "the cluster the inputs came from (docs/clusters.md); the cluster a managed export names "
     "inside its records is not used")
    ("batch-size", po::value(&batch_size)->default_value(batch_size),
     "items per stored batch (one transaction each)")
    ("progress", po::value(&progress_mode)->default_value(progress_mode),
     "auto (on a terminal), always or never")
    ("output,o", po::value(&output)->default_value(output), "summary format: text or json")
    ("fail-on-reject", po::bool_switch(&fail_on_reject),
     "exit 3 when any item is rejected (by default only when items were rejected and none "
     "was accepted)")
    ("rules", po::value(&serve.rules), "incident correlation rules file (docs/incidents.md)")
    ("file", po::value(&files), "audit log or Event files; - is stdin");
  // clang-format on
  add_processing_flags(&desc, &serve.processing);
  add_detect_flags(&desc, &serve.detect_rules);
  add_seal_options(desc, &serve);
  po::positional_options_description positional;
  positional.add("file", -1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    if (vm.count("help") != 0u) {
      std::cout << "usage: ktrail ingest [options] FILE...\n\n"
                << "Inputs are JSON lines, JSON documents or YAML documents (audit events or\n"
                << "Kubernetes Events; lists of them), plain or gzip; - is stdin.\n\n"
                << desc << "\n"
                << kIngestExitCodes;
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(invalid_argument(explain_option_error(e, desc)), kExitUsage);
  }
  if (files.empty()) {
    return fail(invalid_argument("no input: give one or more files, or - for stdin"), kExitUsage);
  }
  if (output != "text" && output != "json") {
    return fail(invalid_argument("-o must be text or json"), kExitUsage);
  }
  if (progress_mode != "auto" && progress_mode != "always" && progress_mode != "never") {
    return fail(invalid_argument("--progress must be auto, always or never"), kExitUsage);
  }
  if (batch_size == 0 || batch_size > 100000) {
    return fail(invalid_argument("--batch-size must be between 1 and 100000"), kExitUsage);
  }
  if (Status s = check_cluster_name(cluster, "--cluster"); !s.is_ok()) {
    return fail(s, kExitUsage);
  }
  auto format = ingest::parse_source_format(format_text);
  if (!format) {
    return fail(format.status(), kExitUsage);
  }
  std::optional<ingest::PayloadKind> forced_kind;
  if (*format != ingest::SourceFormat::kAuto && *format != ingest::SourceFormat::kK8s) {
    if (kind_text == "events") {
      return fail(invalid_argument("--format " + format_text + " reads audit logs, not --kind events"),
                  kExitUsage);
    }
    kind_text = "audit";
  }
  if (kind_text != "auto") {
    auto kind = ingest::parse_payload_kind(kind_text);
    if (!kind) {
      return fail(kind.status(), kExitUsage);
    }
    auto decoder = ingest::make_decoder(*kind);
    if (!decoder) {
      return fail(decoder.status(), kExitUsage);
    }
    forced_kind = *kind;
  }
  ingest::KindDecoders decoders;
  if (auto events = ingest::make_decoder(ingest::PayloadKind::kEvents); events) {
    decoders.events = std::move(*events);
  } else {
    return fail(events.status(), kExitFailure);
  }
  if (Status s = init_logging("warn"); !s.is_ok()) {
    return fail(s, kExitFailure);
  }

  if (Status s = check_store_directory(serve.db); !s.is_ok()) {
    return fail(s, kExitFailure);
  }
  StoreOptions store_options;
  if (Status s = apply_seal_options(serve, &store_options); !s.is_ok()) {
    return fail(s, kExitUsage);
  }
  auto store = Store::open(serve.db, store_options);
  if (!store) {
    return fail(store.status(), kExitFailure);
  }
  auto chain = make_processor_chain(serve);
  if (!chain) {
    return fail(chain.status(), kExitUsage);
  }
  if (Status s = record_processing_policy(**store, serve.processing, "ktrail ingest");
      !s.is_ok()) {
    return fail(s, kExitFailure);
  }
  if (Status s = restore_processor_state(*chain, **store, serve); !s.is_ok()) {
    return fail(s, kExitFailure);
  }
  Store* writer = store->get();
  PipelineOptions pipeline_options;
  pipeline_options.queue = to_queue_limits(serve);
  // A replay always keeps the queue full: a group's worth queued while a group is written is
  // all the overlap it needs, and holds memory to that.
  pipeline_options.queue.max_events = pipeline_options.group_events;
  Pipeline pipeline(pipeline_options, std::move(*chain),
                    [writer](const std::vector<const Batch*>& group) {
                      return write_waiting_for_other_writers(*writer, group);
                    });

  Tally tally;
  ProgressLine progress(progress_mode == "always" ||
                        (progress_mode == "auto" && isatty(STDERR_FILENO) == 1));
  std::uint64_t read = 0;
  int exit_code = kExitOk;
  for (const std::string& file : files) {
    ingest::ReplayOptions replay;
    replay.batch_size = batch_size;
    ingest::ReplayCallbacks callbacks;
    const std::string name = file == "-" ? "stdin" : file;
    callbacks.progress = [&](const ingest::ReplayProgress& p) {
      progress.update(name, p, p.total_bytes == 0 ? false : p.bytes >= p.total_bytes);
    };
    callbacks.emit = [&](Batch batch) -> Status {
      batch.cluster = cluster;
      read += batch.audit.size() + batch.events.size() + batch.rejected.size();
      KTRAIL_RETURN_IF_ERROR(tally.error());
      tally.begin();
      // Waits while the queue is full: its limits bound what a replay holds in memory, and the
      // batches that queue up behind the writer are written together.
      if (pipeline.submit_wait(std::move(batch), [&tally](const Status& s, const BatchOutcome& o) {
            tally.done(s, o);
          }) != SubmitResult::kAccepted) {
        tally.cancel();
        return unavailable("the pipeline stopped");
      }
      return Status::ok();
    };
    // The kind (unless --kind) is decided from each input's first bytes, stdin's included.
    // Audit logs may come in a managed service's export format; a decoder serves one input.
    decoders.audit = ingest::make_format_decoder(*format);
    Status s = ingest::replay_input(file, forced_kind, decoders, replay, callbacks);
    if (!s.is_ok()) {
      std::fprintf(stderr, "\nktrail: %s\n", s.message().c_str());
      exit_code = kExitFailure;
      if (!tally.error().is_ok()) {
        break;  // the store failed: later files would fail the same way
      }
    }
  }
  {
    // The end of the input: correlation releases what its reorder window still holds.
    Batch last;
    last.origin = "end of input";
    last.end_of_input = true;
    tally.begin();
    if (pipeline.submit(std::move(last), [&tally](const Status& s, const BatchOutcome& o) {
          tally.done(s, o);
        }) != SubmitResult::kAccepted) {
      tally.cancel();
    }
  }
  tally.wait_all();
  pipeline.close_and_drain();
  if (store_options.seal_after > 0 && tally.error().is_ok()) {
    // What is due at the end of the input is sealed before exit, not left to the next writer.
    if (auto sealed = writer->seal_due(store_options.seal_after); !sealed) {
      std::fprintf(stderr, "ktrail: sealing: %s\n", sealed.status().message().c_str());
      exit_code = kExitFailure;
    }
  }
  const BatchOutcome total = tally.total();
  if (Status s = tally.error(); !s.is_ok()) {
    std::fprintf(stderr, "ktrail: store: %s\n", s.message().c_str());
    exit_code = kExitFailure;
  }
  // Rejections fail the run loudly when nothing was accepted (the input was not what ktrail
  // reads), or on any rejection with --fail-on-reject. A harder failure keeps its own code.
  const std::size_t accepted = total.stored + total.duplicates + total.dropped_by_policy;
  if (exit_code == kExitOk && total.rejected > 0 && (accepted == 0 || fail_on_reject)) {
    exit_code = kExitRejected;
  }
  if (output == "json") {
    std::printf(
        "{\"read\":%llu,\"stored\":%zu,\"duplicates\":%zu,\"rejected\":%zu,\"dropped\":%zu,"
        "\"late\":%zu,\"quarantined\":%zu}\n",
        static_cast<unsigned long long>(read), total.stored, total.duplicates, total.rejected,
        total.dropped_by_policy, total.late, total.quarantined);
  } else {
    std::printf("read %llu, stored %zu, duplicates %zu, rejected %zu, dropped by policy %zu\n",
                static_cast<unsigned long long>(read), total.stored, total.duplicates,
                total.rejected, total.dropped_by_policy);
    if (total.late > 0 || total.quarantined > 0) {
      // Stored all the same; correlation read them as they came (docs/incidents.md).
      std::printf(
          "correlation: %zu items out of time order by more than the reorder window (read "
          "late), %zu with a time implausibly far from the stream's (not correlated)\n",
          total.late, total.quarantined);
    }
  }
  if (exit_code == kExitRejected) {
    std::fprintf(stderr,
                 "ktrail: %zu items rejected%s; the reasons are in the dead letters "
                 "(ktrail sql --db %s \"SELECT reason FROM dead_letters LIMIT 5\")\n",
                 total.rejected, accepted == 0 ? ", none accepted" : "", serve.db.c_str());
  }
  return exit_code;
}

}  // namespace ktrail::app
