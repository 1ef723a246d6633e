#include "query/request_stages.h"

#include <algorithm>

namespace ktrail::query {
namespace {

// Among rows of one time, the later stage ranks higher; ResponseComplete above all.
int stage_rank(Stage stage) {
  switch (stage) {
    case Stage::kRequestReceived:
      return 0;
    case Stage::kResponseStarted:
      return 1;
    case Stage::kPanic:
      return 2;
    case Stage::kResponseComplete:
      return 3;
  }
  return 0;
}

}  // namespace

Result<bool> parse_stages(std::string_view text) {
  if (text == "last") {
    return false;
  }
  if (text == "all") {
    return true;
  }
  return invalid_argument("--stages must be last (one row per request, its last stage) or all "
                          "(every stage), not '" + std::string(text) + "'");
}

void LastStagePicker::pick(std::vector<StoredAudit>* batch) {
  if (batch->empty()) {
    return;
  }
  ++batch_;
  std::vector<bool> drop(batch->size(), false);
  for (std::size_t i = batch->size(); i-- > 0;) {
    const StoredAudit& r = (*batch)[i];
    if (r.audit_id.empty()) {
      continue;
    }
    const Kept row{r.time, std::min(r.received, r.time), r.stage, batch_, i};
    // A request is one auditID in one cluster (core/cluster.h): the same auditID from another
    // cluster is another request.
    auto [it, fresh] = kept_.try_emplace(
        r.cluster == "default" ? r.audit_id : r.cluster + '\x1f' + r.audit_id, row);
    if (fresh) {
      continue;
    }
    Kept& k = it->second;
    // A row of the same time in this batch can still take the place of the one kept, when its
    // stage is later; an older row never does.
    if (k.batch == batch_ && k.time == r.time && stage_rank(r.stage) > stage_rank(k.stage)) {
      drop[k.index] = true;
      k = row;
    } else {
      drop[i] = true;
    }
  }
  const Micros oldest = batch->front().time;
  std::size_t out = 0;
  for (std::size_t i = 0; i < batch->size(); ++i) {
    if (!drop[i]) {
      if (out != i) {
        (*batch)[out] = std::move((*batch)[i]);
      }
      ++out;
    }
  }
  batch->resize(out);
  // Rows still to come are older than `oldest`: a request received after it has no stage left
  // to come. Forgetting is done when the map has doubled, so its cost is spread thin.
  if (kept_.size() >= forget_at_) {
    std::erase_if(kept_, [&](const auto& entry) { return entry.second.earliest > oldest; });
    forget_at_ = std::max<std::size_t>(1024, 2 * kept_.size());
  }
}

std::vector<StoredAudit> one_row_per_request(std::vector<StoredAudit> rows) {
  LastStagePicker picker;
  picker.pick(&rows);
  return rows;
}

}  // namespace ktrail::query
