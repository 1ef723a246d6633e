#include "storage/rollups.h"

#include <cctype>

namespace ktrail::storage {
namespace {

constexpr const char* kUpsertSection = R"sql(
INSERT INTO report_days(day, section, user_id, imp_user_id, verb_id, resource_id, subresource_id,
  ns_id, name_id, code, ips_id, detail, count, first_ts, last_ts, cluster)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
ON CONFLICT DO UPDATE SET count = count + excluded.count,
  first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts))sql";

constexpr const char* kUpsertMinute = R"sql(
INSERT INTO audit_minutes(source_id, minute, count) VALUES (?1, ?2, ?3)
ON CONFLICT DO UPDATE SET count = count + excluded.count)sql";

constexpr const char* kUpsertCounter = R"sql(
INSERT INTO coverage_days(day, source_id, counter, count) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT DO UPDATE SET count = count + excluded.count)sql";

std::int64_t minute_of(Micros t) {
  return t >= 0 ? t / kMicrosPerMinute : -((-t + kMicrosPerMinute - 1) / kMicrosPerMinute);
}

}  // namespace

std::string coverage_source(std::string_view origin) {
  if (origin.rfind("kafka partition", 0) == 0) {
    return "kafka";  // a group's partitions vary from one write to the next
  }
  if (origin.rfind("webhook ", 0) != 0) {
    return std::string(origin);
  }
  const auto colon = origin.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == origin.size()) {
    return std::string(origin);
  }
  for (std::size_t i = colon + 1; i < origin.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(origin[i])) == 0) {
      return std::string(origin);
    }
  }
  std::string_view host = origin.substr(0, colon);
  return std::string(host);
}

void Rollups::end_run() {
  if (run_ > 0) {
    minutes_[{last_source_, last_minute_}] += run_;
    if (!policy_.empty()) {
      const std::int64_t day = day_of(last_minute_ * kMicrosPerMinute);
      counters_[{day, last_source_, "audit policy " + policy_}] += run_;
    }
    run_ = 0;
  }
}

void Rollups::add_event(const AuditEvent& e, const EventIds& ids, std::int64_t source_id,
                        std::int64_t cluster) {
  const std::int64_t minute = minute_of(e.stage_time);
  if (source_id != last_source_ || minute != last_minute_) {
    end_run();
    last_source_ = source_id;
    last_minute_ = minute;
  }
  ++run_;
  if (e.level_received > e.level) {
    add_count(day_of(e.stage_time), source_id,
              std::string("level lowered: ") + to_string(e.level_received) + " to " +
                  to_string(e.level));
  }
  hits_.clear();
  classify(e, &hits_);
  for (SectionHit& hit : hits_) {
    SectionKey key{day_of(e.stage_time),
                   static_cast<int>(hit.section),
                   cluster,
                   ids.user,
                   ids.imp_user,
                   ids.verb,
                   ids.resource,
                   ids.subresource,
                   ids.ns,
                   hit.keeps.name ? ids.name : 0,
                   hit.keeps.code ? e.response_code : 0,
                   hit.keeps.source_ips ? ids.ips : 0,
                   std::move(hit.detail)};
    Span& span = sections_[key];
    if (span.count == 0 || e.stage_time < span.first) {
      span.first = e.stage_time;
    }
    if (span.count == 0 || e.stage_time > span.last) {
      span.last = e.stage_time;
    }
    ++span.count;
  }
}

void Rollups::add_count(std::int64_t day, std::int64_t source_id, std::string_view counter,
                        std::int64_t n) {
  counters_[{day, source_id, std::string(counter)}] += n;
}

Status Rollups::prepare(const sqlite::Db& db) {
  for (auto [sql, stmt] : {std::pair{kUpsertSection, &upsert_section_},
                           std::pair{kUpsertMinute, &upsert_minute_},
                           std::pair{kUpsertCounter, &upsert_counter_}}) {
    auto prepared = sqlite::Stmt::prepare(db, sql);
    if (!prepared) {
      return prepared.status();
    }
    *stmt = std::move(*prepared);
  }
  return Status::ok();
}

Status Rollups::flush(const sqlite::Db& db) {
  end_run();
  if (upsert_section_.get() == nullptr) {
    KTRAIL_RETURN_IF_ERROR(prepare(db));
  }
  auto step = [&](sqlite::Stmt& st, const char* what) -> Status {
    const int rc = st.step();
    st.reset();
    return rc == SQLITE_DONE ? Status::ok() : db.error(what);
  };
  for (const auto& [k, span] : sections_) {
    sqlite::Stmt& st = upsert_section_;
    const std::int64_t values[] = {k.day,      k.section, k.user, k.imp_user, k.verb, k.resource,
                                   k.subresource, k.ns,    k.name, k.code,     k.ips};
    for (int i = 0; i < 11; ++i) {
      st.bind(i + 1, values[i]);
    }
    st.bind(12, std::string_view(k.detail));
    st.bind(13, span.count);
    st.bind(14, span.first);
    st.bind(15, span.last);
    st.bind(16, k.cluster);
    KTRAIL_RETURN_IF_ERROR(step(st, "update report rollups"));
  }
  for (const auto& [k, count] : minutes_) {
    upsert_minute_.bind(1, k.first);
    upsert_minute_.bind(2, k.second);
    upsert_minute_.bind(3, count);
    KTRAIL_RETURN_IF_ERROR(step(upsert_minute_, "update audit minutes"));
  }
  for (const auto& [k, count] : counters_) {
    upsert_counter_.bind(1, std::get<0>(k));
    upsert_counter_.bind(2, std::get<1>(k));
    upsert_counter_.bind(3, std::string_view(std::get<2>(k)));
    upsert_counter_.bind(4, count);
    KTRAIL_RETURN_IF_ERROR(step(upsert_counter_, "update coverage counters"));
  }
  discard();
  return Status::ok();
}

void Rollups::discard() {
  sections_.clear();
  minutes_.clear();
  counters_.clear();
  run_ = 0;
  last_source_ = -1;
}

}  // namespace ktrail::storage
