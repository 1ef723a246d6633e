// File replay: format detection, batching, line numbers in reasons, over-long lines, CRLF,
// empty input.
#include "ingest/file_reader.h"

#include <gtest/gtest.h>

#include "tests/support/test_env.h"

namespace ktrail::ingest {
namespace {

struct Collected {
  std::vector<Batch> batches;
  std::size_t events() const {
    std::size_t n = 0;
    for (const auto& b : batches) {
      n += b.audit.size();
    }
    return n;
  }
  std::vector<RejectedItem> rejected() const {
    std::vector<RejectedItem> out;
    for (const auto& b : batches) {
      out.insert(out.end(), b.rejected.begin(), b.rejected.end());
    }
    return out;
  }
};

Status replay(const std::string& path, ReplayOptions options, Collected* out) {
  auto decoder = make_decoder(PayloadKind::kAudit);
  ReplayCallbacks callbacks;
  callbacks.emit = [out](Batch b) {
    out->batches.push_back(std::move(b));
    return Status::ok();
  };
  return replay_file(path, **decoder, options, callbacks);
}

TEST(FileReader, BatchesJsonLinesInOrder) {
  testing::TempDir dir;
  std::string log;
  for (int i = 0; i < 10; ++i) {
    log += testing::audit_item("e" + std::to_string(i)) + "\r\n";  // CRLF endings
  }
  testing::write_file(dir.file("a.log"), log);
  Collected got;
  ReplayOptions options;
  options.batch_size = 4;
  ASSERT_TRUE(replay(dir.file("a.log"), options, &got).is_ok());
  ASSERT_EQ(got.batches.size(), 3u);
  EXPECT_EQ(got.batches[0].audit.size(), 4u);
  EXPECT_EQ(got.batches[2].audit.size(), 2u);
  EXPECT_EQ(got.batches[2].audit[1].audit_id, "e9");
  EXPECT_EQ(got.batches[0].origin, "file " + dir.file("a.log"));
  EXPECT_TRUE(got.rejected().empty());
}

TEST(FileReader, OverlongLineIsRejectedAndReadingGoesOn) {
  testing::TempDir dir;
  std::string log = testing::audit_item("first") + "\n";
  log += "{\"junk\":\"" + std::string(5000, 'x') + "\"}\n";
  log += testing::audit_item("last") + "\n";
  testing::write_file(dir.file("a.log"), log);
  Collected got;
  ReplayOptions options;
  options.max_line_bytes = 2048;
  ASSERT_TRUE(replay(dir.file("a.log"), options, &got).is_ok());
  EXPECT_EQ(got.events(), 2u);
  const auto rejected = got.rejected();
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].reason.find(":2: line longer than 2048"), std::string::npos)
      << rejected[0].reason;
  EXPECT_LE(rejected[0].raw.size(), 1024u);
}

TEST(FileReader, LineLongerThanTheReadBufferIsSkippedWithoutLoadingIt) {
  testing::TempDir dir;
  std::string log = testing::audit_item("before") + "\n";
  log += "{\"huge\":\"" + std::string(3u << 20, 'y') + "\"}\n";
  log += testing::audit_item("after") + "\n";
  testing::write_file(dir.file("a.log"), log);
  Collected got;
  ReplayOptions options;
  options.max_line_bytes = 4096;
  ASSERT_TRUE(replay(dir.file("a.log"), options, &got).is_ok());
  EXPECT_EQ(got.events(), 2u);
  const auto rejected = got.rejected();
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].reason.find(":2: line longer than 4096"), std::string::npos)
      << rejected[0].reason;
}

TEST(FileReader, EmptyAndBlankInputsYieldNothing) {
  testing::TempDir dir;
  testing::write_file(dir.file("empty"), "");
  testing::write_file(dir.file("blank"), "\n\n  \n");
  for (const char* name : {"empty", "blank"}) {
    Collected got;
    ASSERT_TRUE(replay(dir.file(name), {}, &got).is_ok()) << name;
    EXPECT_TRUE(got.batches.empty()) << name;
  }
}

TEST(FileReader, EmitErrorStopsTheReplay) {
  testing::TempDir dir;
  std::string log;
  for (int i = 0; i < 10; ++i) {
    log += testing::audit_item("s" + std::to_string(i)) + "\n";
  }
  testing::write_file(dir.file("a.log"), log);
  auto decoder = make_decoder(PayloadKind::kAudit);
  int calls = 0;
  ReplayCallbacks callbacks;
  callbacks.emit = [&](Batch) {
    ++calls;
    return Status(ErrorCode::kDatabase, "disk full");
  };
  ReplayOptions options;
  options.batch_size = 2;
  Status s = replay_file(dir.file("a.log"), **decoder, options, callbacks);
  EXPECT_EQ(s.code(), ErrorCode::kDatabase);
  EXPECT_EQ(calls, 1);
}

TEST(FileReader, DetectsKindFromContent) {
  testing::TempDir dir;
  testing::write_file(dir.file("audit"), testing::audit_item("k") + "\n");
  testing::write_file(dir.file("events"),
                      R"({"kind":"Event","involvedObject":{"kind":"Pod","name":"p"}})"
                      "\n");
  EXPECT_EQ(*detect_payload_kind(dir.file("audit")), PayloadKind::kAudit);
  EXPECT_EQ(*detect_payload_kind(dir.file("events")), PayloadKind::kEvents);
  EXPECT_FALSE(detect_payload_kind(dir.file("missing")).is_ok());
  auto events = make_decoder(PayloadKind::kEvents);
  ASSERT_TRUE(events.is_ok());
  EXPECT_EQ((*events)->kind(), PayloadKind::kEvents);
}

// A log whose first line is cut short (mid-string, mid-escape) is still a log: that line is
// rejected with its line number and every record after it is read.
TEST(FileReader, AFirstLineCutShortLosesOnlyThatLine) {
  const std::string item = testing::audit_item("whole");
  for (const std::string& cut : {item.substr(0, item.find("auditID") + 14),
                                 item.substr(0, item.find("auditID") + 10) + "\\u00",
                                 item.substr(0, item.find("auditID") + 10) + "\\"}) {
    testing::TempDir dir;
    std::string log = cut + "\n";
    for (int i = 0; i < 3; ++i) {
      log += testing::audit_item("after" + std::to_string(i)) + "\n";
    }
    testing::write_file(dir.file("a.log"), log);
    Collected got;
    ASSERT_TRUE(replay(dir.file("a.log"), {}, &got).is_ok()) << cut;
    EXPECT_EQ(got.events(), 3u) << cut;
    const auto rejected = got.rejected();
    ASSERT_EQ(rejected.size(), 1u) << cut;
    EXPECT_NE(rejected[0].reason.find("a.log:1:"), std::string::npos) << rejected[0].reason;
  }
}

// Documents are not mistaken for logs: pretty-printed ones (nested objects indented, a first
// line with members on it, arrays of strings one per line) are read whole, and a document that
// is broken is an error, not a log of broken lines.
TEST(FileReader, DocumentsWithBrokenLookingFirstLinesStayDocuments) {
  testing::TempDir dir;
  const std::string doc =
      "{\"kind\": \"EventList\", \"apiVersion\": \"audit.k8s.io/v1\",\n"
      "  \"items\": [\n" +
      testing::audit_item("p1") + ",\n  " + testing::audit_item("p2") +
      "\n  ],\n  \"metadata\": {\n    \"labels\": [\n      \"x\"\n    ]\n  }\n}\n";
  testing::write_file(dir.file("doc.json"), doc);
  Collected got;
  ASSERT_TRUE(replay(dir.file("doc.json"), {}, &got).is_ok());
  EXPECT_EQ(got.events(), 2u);
  EXPECT_TRUE(got.rejected().empty());

  testing::write_file(dir.file("broken.json"), doc.substr(0, doc.size() / 2));
  Collected broken;
  EXPECT_FALSE(replay(dir.file("broken.json"), {}, &broken).is_ok());
}

}  // namespace
}  // namespace ktrail::ingest
