// The complete answer of `ktrail query audit`, in bounded memory: the audit events matching a
// filter (all of them with limit 0, else the most recent `limit`), oldest first, handed to a
// callback one at a time, however many there are.
//
// How: the store answers "the most recent N up to time T" (Store::find_audit), so the events are
// read in pages going back in time, each ending just before the oldest time of the previous one;
// the events of that oldest time are read on their own, whole, so none is lost or repeated
// however many share it. Each page is spilled to an unnamed temporary file, and the pages are
// then replayed oldest first. Memory holds one page (or the events of one crowded microsecond);
// the temporary file holds the events in a compact binary form and is gone when done.
// An answer that fits in one page is handed over directly, without the file.
//
// With `last_stage_only`, each request is one row, its last stage (query/request_stages.h), and
// the limit counts requests: pages are thinned as they are read, newest first, in memory bounded
// by the requests in flight at the point reached.
//
// Each page is its own read snapshot: events stored while a large answer is being read may or
// may not appear in it (each appears at most once).
#pragma once

#include <cstddef>
#include <functional>

#include "app/shards.h"
#include "core/status.h"
#include "storage/store.h"

namespace ktrail::app {

struct AuditStreamOptions {
  std::size_t page_rows = 8192;
  bool last_stage_only = false;  // one row per request
};

// `matched` (optional): how many events matched in all: exact when the whole answer is read
// (limit 0); else as ShardSet::find_audit counts them. With `last_stage_only` it counts
// requests, and only as far as they were read: when the limit left some out, it is the limit
// plus one.
Status stream_audit(ShardSet& shards, const AuditFilter& filter, const AuditStreamOptions& options,
                    std::size_t* matched, const std::function<Status(const StoredAudit&)>& each);

}  // namespace ktrail::app
