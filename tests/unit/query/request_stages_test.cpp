// One row per request (query/request_stages.h): the last stage of each auditID, across batches
// read newest first, in bounded memory.
#include "query/request_stages.h"

#include <gtest/gtest.h>

namespace ktrail::query {
namespace {

StoredAudit row(const std::string& id, Stage stage, Micros received, Micros at) {
  StoredAudit r;
  r.audit_id = id;
  r.stage = stage;
  r.received = received;
  r.time = at;
  return r;
}

std::vector<std::string> names(const std::vector<StoredAudit>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    out.push_back(r.audit_id + ":" + to_string(r.stage));
  }
  return out;
}

TEST(RequestStages, ParsesLastOrAllOnly) {
  EXPECT_EQ(*parse_stages("last"), false);
  EXPECT_EQ(*parse_stages("all"), true);
  for (const char* bad : {"", "ALL", "Last", "all,last", "ResponseComplete", "last ", "\xff"}) {
    auto r = parse_stages(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_NE(r.status().message().find("last"), std::string::npos);
  }
}

TEST(RequestStages, KeepsTheLastStageOfEachRequest) {
  auto out = one_row_per_request({row("a", Stage::kRequestReceived, 1, 1),
                                  row("b", Stage::kRequestReceived, 2, 2),
                                  row("a", Stage::kResponseComplete, 1, 3),
                                  row("c", Stage::kResponseStarted, 4, 4),
                                  row("p", Stage::kRequestReceived, 5, 5),
                                  row("p", Stage::kPanic, 5, 6),
                                  row("", Stage::kRequestReceived, 7, 7),
                                  row("", Stage::kRequestReceived, 7, 7)});
  // b was only received: its one stage shows; rows without an auditID all show.
  EXPECT_EQ(names(out), (std::vector<std::string>{"b:RequestReceived", "a:ResponseComplete",
                                                  "c:ResponseStarted", "p:Panic",
                                                  ":RequestReceived", ":RequestReceived"}));
}

TEST(RequestStages, AtOneTimeTheLaterStageWins) {
  // RequestReceived and ResponseComplete in one microsecond, in either order as stored.
  for (bool complete_first : {false, true}) {
    std::vector<StoredAudit> rows = {row("a", Stage::kRequestReceived, 1, 5),
                                     row("a", Stage::kResponseComplete, 1, 5),
                                     row("a", Stage::kResponseStarted, 1, 5)};
    if (complete_first) {
      std::swap(rows[0], rows[1]);
    }
    EXPECT_EQ(names(one_row_per_request(rows)),
              (std::vector<std::string>{"a:ResponseComplete"}));
  }
}

TEST(RequestStages, BatchesReadNewestFirstGiveTheSameAnswer) {
  std::vector<StoredAudit> all;
  for (int i = 0; i < 300; ++i) {
    const Micros t = i * 10;
    const std::string id = "r" + std::to_string(i);
    all.push_back(row(id, Stage::kRequestReceived, t, t));
    if (i % 3 != 0) {  // every third request is only received
      // Long requests end far later, after many others began.
      const Micros end = t + (i % 7 == 0 ? 1000 : 5);
      all.push_back(row(id, i % 11 == 0 ? Stage::kPanic : Stage::kResponseComplete, t, end));
    }
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const StoredAudit& x, const StoredAudit& y) { return x.time < y.time; });
  const auto expected = one_row_per_request(all);
  for (std::size_t batch_rows : {1u, 2u, 13u, 1000u}) {
    LastStagePicker picker;
    std::vector<std::vector<StoredAudit>> kept;
    std::size_t end = all.size();
    while (end > 0) {
      std::size_t begin = end > batch_rows ? end - batch_rows : 0;
      while (begin > 0 && all[begin - 1].time == all[begin].time) {
        --begin;  // one time stays in one batch
      }
      std::vector<StoredAudit> batch(all.begin() + static_cast<std::ptrdiff_t>(begin),
                                     all.begin() + static_cast<std::ptrdiff_t>(end));
      picker.pick(&batch);
      kept.push_back(std::move(batch));
      end = begin;
    }
    std::vector<StoredAudit> got;
    for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
      got.insert(got.end(), it->begin(), it->end());
    }
    EXPECT_EQ(names(got), names(expected)) << "batches of " << batch_rows;
  }
}

TEST(RequestStages, MemoryHoldsOnlyTheRequestsInFlight) {
  // 200,000 requests, newest first, each received 3 µs before it completes, one running
  // watch all along: what is remembered stays near the forgetting threshold.
  LastStagePicker picker;
  std::size_t most = 0;
  std::size_t shown = 0;
  const Micros last = 2'000'000;
  for (Micros t = last; t > 0; t -= 10) {
    std::vector<StoredAudit> batch = {
        row("req" + std::to_string(t), Stage::kRequestReceived, t - 3, t - 3),
        row("req" + std::to_string(t), Stage::kResponseComplete, t - 3, t)};
    if (t == last) {
      batch.push_back(row("watch", Stage::kResponseComplete, 0, t + 1));
    }
    picker.pick(&batch);
    shown += batch.size();
    most = std::max(most, picker.remembered());
  }
  EXPECT_EQ(shown, 200'001u);
  EXPECT_LE(most, 2048u);
  // The watch's earlier stage, at the very start, is still known to be the same request.
  std::vector<StoredAudit> start = {row("watch", Stage::kResponseStarted, 0, 0)};
  picker.pick(&start);
  EXPECT_TRUE(start.empty());
}

}  // namespace
}  // namespace ktrail::query
