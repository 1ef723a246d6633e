#include "storage/store.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/metrics.h"
#include "storage/schema.h"
#include "storage/clusters.h"
#include "storage/store_impl.h"

namespace ktrail {
namespace {

Status apply_writer_pragmas(sqlite::Db& db, const StoreOptions& options) {
  // page_size only takes effect on a new file, before the first table exists.
  KTRAIL_RETURN_IF_ERROR(db.exec("PRAGMA page_size = " + std::to_string(options.page_size)));
  KTRAIL_RETURN_IF_ERROR(db.exec("PRAGMA journal_mode = WAL"));
  KTRAIL_RETURN_IF_ERROR(db.exec(options.sync == SyncMode::kFull ? "PRAGMA synchronous = FULL"
                                                                 : "PRAGMA synchronous = NORMAL"));
  // With background checkpoints the Checkpointer's WAL hook replaces the automatic one.
  const int auto_pages = options.background_checkpoints ? 0 : options.wal_autocheckpoint_pages;
  KTRAIL_RETURN_IF_ERROR(db.exec("PRAGMA wal_autocheckpoint = " + std::to_string(auto_pages)));
  // After a checkpoint, keep the WAL file from staying at its high-water mark.
  KTRAIL_RETURN_IF_ERROR(db.exec("PRAGMA journal_size_limit = 67108864"));
  KTRAIL_RETURN_IF_ERROR(db.exec("PRAGMA temp_store = MEMORY"));
  // Some builds of SQLite (Debian's) overwrite deleted content with zeros by default: work on
  // every page split and every merge of the name index, for no benefit to an audit store.
  KTRAIL_RETURN_IF_ERROR(db.exec("PRAGMA secure_delete = OFF"));
  return Status::ok();
}

}  // namespace

Store::Store(std::string path, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}

Store::~Store() = default;

sqlite3* Store::handle() { return impl_->db.get(); }

Result<std::unique_ptr<Store>> Store::open(const std::string& path, const StoreOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  int flags = SQLITE_OPEN_NOMUTEX;
  if (options.read_only) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return not_found("no store at '" + path + "'");
    }
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  }
  auto db = sqlite::Db::open(path, flags);
  if (!db) {
    return db.status();
  }
  impl->db = std::move(*db);
  sqlite3_busy_timeout(impl->db.get(), 5000);
  KTRAIL_RETURN_IF_ERROR(
      impl->db.exec("PRAGMA cache_size = " + std::to_string(-1024 * options.cache_mib)));
  if (options.read_only) {
    KTRAIL_RETURN_IF_ERROR(storage::check_version(impl->db));
  } else {
    KTRAIL_RETURN_IF_ERROR(apply_writer_pragmas(impl->db, options));
    KTRAIL_RETURN_IF_ERROR(storage::migrate(impl->db));
    impl->packer = std::make_unique<storage::BlockPacker>();
    impl->compressor = std::make_unique<storage::BlockCompressor>(options.zstd_level);
    if (options.background_checkpoints) {
      storage::CheckpointerOptions co;
      co.start_pages = options.wal_autocheckpoint_pages;
      co.limit_pages = options.wal_limit_pages > 0 ? options.wal_limit_pages
                                                   : 4 * options.wal_autocheckpoint_pages;
      co.sync_full = options.sync == SyncMode::kFull;
      auto checkpointer = storage::Checkpointer::start(path, impl->db.get(), co);
      if (!checkpointer) {
        return checkpointer.status();
      }
      impl->checkpointer = std::move(*checkpointer);
    }
    if (options.seal_after > 0) {
      storage::SealerOptions so;
      so.partition = options.partition;
      so.seal_after = options.seal_after;
      so.retention = options.retention;
      auto sealer = storage::Sealer::start(path, so);
      if (!sealer) {
        return sealer.status();
      }
      impl->sealer = std::move(*sealer);
    }
  }
  auto dict = storage::Dictionary::create(impl->db, options.dictionary_cache_entries);
  if (!dict) {
    return dict.status();
  }
  impl->dict.emplace(std::move(*dict));
  return std::unique_ptr<Store>(new Store(path, std::move(impl)));
}

Result<BatchOutcome> Store::write_batch(const Batch& batch) { return write_batch(batch, nullptr); }

Result<BatchOutcome> Store::write_batch(const Batch& batch,
                                        const std::function<Status(sqlite3*)>& also) {
  auto outcomes = write_group({&batch}, also);
  if (!outcomes) {
    return outcomes.status();
  }
  return outcomes->front();
}

Result<std::vector<BatchOutcome>> Store::write_batches(const std::vector<const Batch*>& batches) {
  return write_group(batches, nullptr);
}

Result<std::vector<BatchOutcome>> Store::write_group(const std::vector<const Batch*>& batches,
                                                     const std::function<Status(sqlite3*)>& also) {
  Impl& s = *impl_;
  if (s.options.read_only) {
    return Status(ErrorCode::kPermissionDenied, "the store is open read-only");
  }
  if (s.insert_audit.get() == nullptr) {
    KTRAIL_RETURN_IF_ERROR(s.prepare_writer());
  }
  const Micros now = s.options.clock != nullptr ? s.options.clock->now() : SystemClock().now();
  std::vector<BatchOutcome> outcomes(batches.size());
  static Histogram& commit_seconds = MetricsRegistry::global().histogram(
      "ktrail_store_commit_seconds",
      "Time to write one group of batches in one transaction, BEGIN to COMMIT (sync included)");
  const auto began = std::chrono::steady_clock::now();
  KTRAIL_RETURN_IF_ERROR(s.db.exec("BEGIN IMMEDIATE"));
  // Another process (`ktrail ingest` beside `ktrail serve`) may have written blocks since our
  // last batch: take the next block id under the write lock.
  Status status = s.load_next_block_id();
  if (status.is_ok()) {
    status = s.refresh_sealed();
  }
  if (status.is_ok() && s.pending_rows < 0) {
    status = s.count_pending_rows();
  }
  for (std::size_t b = 0; status.is_ok() && b < batches.size(); ++b) {
    status = s.write_one(*batches[b], now, &outcomes[b]);
  }
  if (status.is_ok() && s.packer->size() > 0) {
    status = s.flush_block();
  }
  if (status.is_ok()) {
    status = s.insert_blocks();
  }
  if (status.is_ok()) {
    status = s.insert_pending_rows();
  }
  if (status.is_ok()) {
    status = s.merge_pending_if_due();
  }
  if (status.is_ok()) {
    status = s.rollups.flush(s.db);
  }
  if (status.is_ok() && also) {
    status = also(handle());
  }
  if (status.is_ok()) {
    status = s.db.exec("COMMIT");
  }
  if (!status.is_ok()) {
    (void)s.db.exec("ROLLBACK");
    s.dict->rollback();
    s.packer->clear();
    s.compressor->discard();
    (void)s.load_next_block_id();
    s.pending_rows = -1;  // unknown: recounted before the next batch
    s.rows_to_add.clear();
    s.rollups.discard();
    s.cluster_ids.clear();
    return status;
  }
  commit_seconds.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  if (s.checkpointer) {
    s.checkpointer->after_commit();
  }
  if (s.sealer) {
    s.sealer->wake();
  }
  return outcomes;
}

Status Store::Impl::refresh_sealed() {
  auto seen = sqlite::Stmt::prepare(
      db, "SELECT coalesce(max(id), 0), count(*), coalesce(max(max_ts), -1) FROM segments");
  if (!seen) {
    return seen.status();
  }
  if (seen->step() != SQLITE_ROW) {
    return db.error("read segments");
  }
  const std::pair<std::int64_t, std::int64_t> now{seen->column_int(0), seen->column_int(1)};
  if (now != segments_seen) {
    segments_seen = now;
    sealed_max_ts = seen->column_int(2);
    sealed.forget();
  }
  return Status::ok();
}

Result<std::int64_t> Store::seal_due(Micros seal_after) {
  Impl& s = *impl_;
  if (s.options.read_only) {
    return Status(ErrorCode::kPermissionDenied, "the store is open read-only");
  }
  auto due = storage::due_partitions(s.db, s.options.partition, seal_after);
  if (!due) {
    return due.status();
  }
  std::int64_t rows = 0;
  for (const Micros start : *due) {
    auto sealed = storage::seal_partition(s.db, start, s.options.partition, 3);
    if (!sealed) {
      return sealed.status();
    }
    rows += sealed->rows;
  }
  if (s.checkpointer) {
    s.checkpointer->after_commit();
  }
  return rows;
}

Result<ChainReport> Store::verify_segments(std::optional<Micros> since) {
  sqlite::ReadSnapshot snapshot(impl_->db);
  KTRAIL_RETURN_IF_ERROR(snapshot.status());
  auto v = storage::verify_segments(impl_->db, since);
  if (!v) {
    return v.status();
  }
  ChainReport r;
  r.segments = v->segments;
  r.events = v->events;
  r.bad_segment = v->bad_segment;
  r.bad_range_start = v->bad_range_start;
  r.bad_range_end = v->bad_range_end;
  r.reason = std::move(v->reason);
  r.head = std::move(v->head);
  r.hashes = std::move(v->hashes);
  return r;
}

Result<PruneReport> Store::prune_before(Micros before) {
  if (impl_->options.read_only) {
    return Status(ErrorCode::kPermissionDenied, "the store is open read-only");
  }
  auto pruned = storage::prune_segments(impl_->db, before);
  if (!pruned) {
    return pruned.status();
  }
  return PruneReport{pruned->segments, pruned->events, pruned->hot_kept, pruned->sealed_kept};
}

Status Store::export_audit(Micros since, Micros until,
                           const std::function<Status(std::string_view)>& sink) {
  sqlite::ReadSnapshot snapshot(impl_->db);
  KTRAIL_RETURN_IF_ERROR(snapshot.status());
  return storage::export_events(impl_->db, since, until, sink);
}

std::int64_t Store::sealed_segments() const {
  return impl_->sealer ? impl_->sealer->segments() : 0;
}

std::int64_t Store::seal_errors() const { return impl_->sealer ? impl_->sealer->errors() : 0; }

Status Store::Impl::write_one(const Batch& batch, Micros now, BatchOutcome* outcome) {
  const BatchOutcome before = *outcome;
  source_id = 0;
  // The batch's cluster is recorded only when it brings items of its own (a batch that only
  // carries incidents, e.g. the end of a replay, names no cluster by itself).
  cluster_id = 0;
  if (!batch.audit.empty() || !batch.events.empty() || !batch.rejected.empty() ||
      !batch.findings.empty()) {
    auto cluster = cluster_id_of(batch.cluster);
    if (!cluster) {
      return cluster.status();
    }
    cluster_id = *cluster;
  }
  if (!batch.audit.empty() || !batch.rejected.empty() || !batch.tallies.empty()) {
    auto id = dict->intern(storage::coverage_source(batch.origin));
    if (!id) {
      return id.status();
    }
    source_id = *id;
  }
  for (const auto& event : batch.audit) {
    KTRAIL_RETURN_IF_ERROR(write_audit(event, batch.origin, now, outcome));
  }
  for (const auto& tally : batch.tallies) {
    rollups.add_count(storage::day_of(tally.time), source_id, tally.what);
  }
  for (const auto& event : batch.events) {
    KTRAIL_RETURN_IF_ERROR(write_kube_event(event, batch.origin, now, outcome));
  }
  for (const auto& incident : batch.incidents) {
    // An incident carries its own cluster: the end of a replay releases every cluster's.
    auto incident_cluster = cluster_id_of(incident.cluster);
    if (!incident_cluster) {
      return incident_cluster.status();
    }
    KTRAIL_RETURN_IF_ERROR(write_incident(incident, *incident_cluster));
  }
  for (const auto& finding : batch.findings) {
    KTRAIL_RETURN_IF_ERROR(write_finding(finding));
  }
  for (const auto& item : batch.rejected) {
    KTRAIL_RETURN_IF_ERROR(write_dead_letter(item.reason, item.raw, batch.origin, now));
    ++outcome->rejected;
  }
  // Kubernetes Events are not audit events; only audit duplicates and dead letters count here.
  const std::size_t kube = batch.events.size();
  if (outcome->rejected > before.rejected) {
    rollups.add_count(storage::day_of(now), source_id, "dead letters",
                      static_cast<std::int64_t>(outcome->rejected - before.rejected));
  }
  if (kube == 0 && outcome->duplicates > before.duplicates) {
    rollups.add_count(storage::day_of(now), source_id, "duplicates",
                      static_cast<std::int64_t>(outcome->duplicates - before.duplicates));
  }
  return Status::ok();
}

Result<std::vector<std::string>> Store::clusters() {
  auto names = storage::cluster_names(impl_->db);
  if (!names) {
    return names.status();
  }
  auto present = sqlite::query_int(impl_->db, "SELECT count(*) FROM clusters WHERE id = 0");
  if (!present) {
    return present.status();
  }
  std::vector<std::string> out;
  for (const auto& [id, name] : *names) {
    if (id != 0 || *present > 0) {
      out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<StoreCounts> Store::counts() {
  StoreCounts c;
  auto count = [&](const char* sql, std::int64_t* out) -> Status {
    auto n = sqlite::query_int(impl_->db, sql);
    if (!n) {
      return n.status();
    }
    *out = *n;
    return Status::ok();
  };
  KTRAIL_RETURN_IF_ERROR(count(
      "SELECT (SELECT count(*) FROM audit) + (SELECT coalesce(sum(count), 0) FROM segments)",
      &c.audit));
  KTRAIL_RETURN_IF_ERROR(count("SELECT count(*) FROM kube_events", &c.kube_events));
  KTRAIL_RETURN_IF_ERROR(count("SELECT count(*) FROM dead_letters", &c.dead_letters));
  KTRAIL_RETURN_IF_ERROR(count("SELECT count(*) FROM incidents", &c.incidents));
  KTRAIL_RETURN_IF_ERROR(count("SELECT count(*) FROM findings", &c.findings));
  return c;
}

}  // namespace ktrail
