// `ktrail ingest`: replay of the real audit logs (JSON lines, v1 and v1beta1), EventList
// documents, gzip, stdin, broken and truncated input, and the summary.
#include <gtest/gtest.h>
#include <zlib.h>

#include "tests/integration/store_check.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kData = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/";

long long json_number(const std::string& body, const std::string& key) {
  const auto at = body.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size() + 3));
}

void write_gzip(const std::string& path, const std::string& content) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
}

TEST(IngestCommand, RealLogsStoredOnceAndReplaysAddNothing) {
  TempDir dir;
  const std::vector<std::string> files = {kData + "audit2rbac-demo-raw-v1beta1.jsonl",
                                          kData + "audit2rbac-demo-v1.jsonl",
                                          kData + "falco-k8s-audit-trace-files.jsonl"};
  std::vector<std::string> texts;
  std::size_t lines = 0;
  for (const auto& f : files) {
    texts.push_back(read_file(f));
    lines += static_cast<std::size_t>(std::count(texts.back().begin(), texts.back().end(), '\n'));
  }
  const std::size_t expected = distinct_events(texts);

  std::vector<std::string> args = {"ingest", "--db", dir.file("k.db"), "-o", "json"};
  args.insert(args.end(), files.begin(), files.end());
  auto first = run_ktrail(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(json_number(first.out, "read"), static_cast<long long>(lines));
  EXPECT_EQ(json_number(first.out, "stored"), static_cast<long long>(expected));
  EXPECT_EQ(json_number(first.out, "duplicates"), static_cast<long long>(lines - expected));
  EXPECT_EQ(json_number(first.out, "rejected"), 0);

  auto again = run_ktrail(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json_number(again.out, "stored"), 0);
  EXPECT_EQ(json_number(again.out, "duplicates"), static_cast<long long>(lines));

  StoreReader store(dir.file("k.db"));
  EXPECT_EQ(store.audit_rows(), static_cast<long long>(expected));
  EXPECT_EQ(store.duplicate_rows(), 0);
}

TEST(IngestCommand, GzipStdinAndEventListDocuments) {
  TempDir dir;
  const std::string log = read_file(kData + "audit2rbac-demo-v1.jsonl");
  write_gzip(dir.file("audit.log.gz"), log);
  auto gz =
      run_ktrail({"ingest", "--db", dir.file("gz.db"), "-o", "json", dir.file("audit.log.gz")});
  ASSERT_EQ(gz.exit_code, 0) << gz.err;
  EXPECT_EQ(json_number(gz.out, "stored"), 37);

  auto from_stdin = run_ktrail({"ingest", "--db", dir.file("stdin.db"), "-o", "json", "-"}, log);
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(json_number(from_stdin.out, "stored"), 37);

  // A pretty-printed EventList document (several lines, not one event per line).
  std::string doc = "{\n  \"kind\": \"EventList\",\n  \"apiVersion\": \"audit.k8s.io/v1\",\n";
  doc += "  \"items\": [\n";
  for (int i = 0; i < 5; ++i) {
    doc += (i ? ",\n    " : "    ") + audit_item("doc-" + std::to_string(i));
  }
  doc += "\n  ]\n}\n";
  write_file(dir.file("list.json"), doc);
  auto list = run_ktrail({"ingest", "--db", dir.file("doc.db"), "-o", "json", "--batch-size", "2",
                          dir.file("list.json")});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(json_number(list.out, "stored"), 5);
  EXPECT_EQ(StoreReader(dir.file("doc.db")).audit_rows(), 5);

  // One EventList per line (captured webhook bodies).
  write_file(dir.file("bodies.jsonl"), event_list("b1", 3) + event_list("b2", 4));
  auto bodies =
      run_ktrail({"ingest", "--db", dir.file("bodies.db"), "-o", "json", dir.file("bodies.jsonl")});
  ASSERT_EQ(bodies.exit_code, 0) << bodies.err;
  EXPECT_EQ(json_number(bodies.out, "stored"), 7);
}

TEST(IngestCommand, BrokenLinesAreRejectedAndTheRestStored) {
  TempDir dir;
  std::string log;
  log += audit_item("ok-1") + "\n";
  log += "{\"this is\": not json}\n";
  log += "\n";
  log += R"({"kind":"Event","level":"Metadata","stage":"ResponseComplete"})"
         "\n";
  log += audit_item("ok-2") + "\n";
  const std::string last = audit_item("truncated");
  log += last.substr(0, last.size() / 2);  // the log was cut mid-line
  write_file(dir.file("audit.log"), log);
  auto r = run_ktrail({"ingest", "--db", dir.file("k.db"), "-o", "json", dir.file("audit.log")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_number(r.out, "read"), 5);
  EXPECT_EQ(json_number(r.out, "stored"), 2);
  EXPECT_EQ(json_number(r.out, "rejected"), 3);
  StoreReader store(dir.file("k.db"));
  EXPECT_EQ(store.dead_letters(), 3);
  const auto reasons = store.strings("SELECT reason FROM dead_letters ORDER BY id");
  ASSERT_EQ(reasons.size(), 3u);
  EXPECT_NE(reasons[0].find("audit.log:2:"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[2].find("audit.log:6:"), std::string::npos) << reasons[2];
}

TEST(IngestCommand, ErrorsAreClear) {
  TempDir dir;
  auto missing = run_ktrail({"ingest", "--db", dir.file("k.db"), dir.file("nope.log")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.log"), std::string::npos) << missing.err;

  auto events = run_ktrail({"ingest", "--db", dir.file("k.db"), "--kind", "events", "-"}, "");
  EXPECT_EQ(events.exit_code, 2);
  EXPECT_NE(events.err.find("not supported yet"), std::string::npos) << events.err;

  EXPECT_EQ(run_ktrail({"ingest", "--db", dir.file("k.db")}).exit_code, 2);
  EXPECT_EQ(run_ktrail({"ingest", "--kind", "logs", "x"}).exit_code, 2);

  write_file(dir.file("broken.json"), "{\n  \"kind\": \"EventList\",\n  \"items\": [\n");
  auto broken = run_ktrail({"ingest", "--db", dir.file("k.db"), dir.file("broken.json")});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.err.find("invalid JSON at offset"), std::string::npos) << broken.err;
  EXPECT_NE(broken.out.find("stored 0"), std::string::npos) << broken.out;

  auto binary = run_ktrail({"ingest", "--db", dir.file("k.db"), "-o", "json", "-"},
                           std::string("\x00\xff\xfe\x01 garbage \n\x02\x03", 16));
  EXPECT_EQ(binary.exit_code, 1) << binary.out;  // not JSON lines, not a document
}

}  // namespace
}  // namespace ktrail::testing
