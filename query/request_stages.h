// One row per request. kube-apiserver audits a request at up to four stages, each an event of its
// own sharing the request's auditID: RequestReceived, ResponseStarted (long-running requests:
// watch, exec, proxy), then ResponseComplete or Panic. `query audit` and `query timeline` show
// each request once unless `--stages all`.
//
// The row kept for a request is its last stage: the one with the latest stageTimestamp, and
// among rows of one time ResponseComplete, then Panic, ResponseStarted, RequestReceived. So a
// request audited only at RequestReceived (its later stages omitted by policy, or still running)
// still shows, once. Rows without an auditID are each a request of their own.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "storage/store.h"

namespace ktrail::query {

// "last" (one row per request) or "all" (every stage); anything else is an invalid-argument
// error naming the choices. Returns whether every stage is wanted.
Result<bool> parse_stages(std::string_view text);

// Picks the last stage of each request from rows read newest first, in batches, so that a
// stream of any length is thinned in bounded memory.
//
// Contract: pick() is given batches in reverse time order: each batch is oldest first (as the
// store returns rows), no row of a later batch is newer than the oldest row of an earlier one,
// and the rows of one stageTimestamp all come in one batch. It removes from the batch the rows
// that are not their request's last stage, keeping the order of the others.
// Memory: a request is remembered only until the batches go back past its
// requestReceivedTimestamp (every stage of a request is at or after it), so what is held is
// the requests in flight at the point reached, not the answer.
class LastStagePicker {
 public:
  void pick(std::vector<StoredAudit>* batch);
  // How many requests are remembered now (tests check that it stays bounded).
  std::size_t remembered() const { return kept_.size(); }

 private:
  struct Kept {
    Micros time = 0;
    Micros earliest = 0;  // no stage of the request is older
    Stage stage = Stage::kRequestReceived;
    std::size_t batch = 0;
    std::size_t index = 0;  // in its batch
  };
  std::unordered_map<std::string, Kept> kept_;
  std::size_t batch_ = 0;
  std::size_t forget_at_ = 1024;  // size of kept_ at which the finished requests are forgotten
};

// One row per request of rows in time order (a whole answer held in memory).
std::vector<StoredAudit> one_row_per_request(std::vector<StoredAudit> rows);

}  // namespace ktrail::query
