// Sealed originals are kept as remainders (storage/event_remainder.h): every read of a sealed
// store must give byte for byte what the same input gives unsealed. Real audit logs
// (tests/data) and generated events of odd shapes go into two stores, one sealed, and every read
// path of the real binary is compared; then damaged and hostile segments must fail loudly, and
// segments whose frames hold whole events (sealed before remainders) must still read.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/time.h"
#include "storage/event_remainder.h"
#include "storage/segment_codec.h"
#include "tests/support/process.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::run_ktrail;
using testing::TempDir;

constexpr const char* kFrom = "2000-01-01T00:00:00Z";
constexpr const char* kTo = "2031-01-01T00:00:00Z";

std::string uuid(std::mt19937_64& rng, bool upper) {
  static const char* lower_hex = "0123456789abcdef";
  static const char* upper_hex = "0123456789ABCDEF";
  const char* hex = upper ? upper_hex : lower_hex;
  std::string s;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) {
      s += '-';
    }
    s += hex[rng() % 16];
  }
  return s;
}

// Audit events whose bytes are not what ktrail itself would write: keys in any order, spaces,
// escapes and raw unicode in strings, odd numbers, missing and repeated fields, second-precision
// times, auditIDs that are not lower-case UUIDs, and texts that hold control characters.
std::string odd_events(std::size_t n) {
  std::mt19937_64 rng(16);
  const Micros start = 1456790400000000;  // 2016-03-01T00:00:00Z
  const char* users[] = {"alice", "b\\u00f6b", "caf\xc3\xa9", "system:node:n1",
                         "\\u65e5\\u672c", "e\\/f", "q\\\"uote", "ctl\\u0001x", "default"};
  const char* verbs[] = {"get", "list", "update", "create", "delete", "watch"};
  const char* resources[] = {"pods", "secrets", "configmaps", "leases", "nodes"};
  const char* namespaces[] = {"default", "prod", "kube-system", "sp ace", "\\u0002ns"};
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    const Micros t = start + static_cast<Micros>(i) * 7'000'000 +
                     (i % 5 == 0 ? 0 : static_cast<Micros>(rng() % 1'000'000));
    const Micros received = i % 9 == 0 ? t : t - static_cast<Micros>(rng() % 90'000);
    auto stamp = [&](Micros at) {
      std::string s = format_rfc3339(at);
      if (at % 1'000'000 == 0 && i % 2 == 0) {
        s = s.substr(0, s.size() - 8) + "Z";
      }
      return s;
    };
    const std::string id = i % 11 == 0   ? "not-a-uuid-" + std::to_string(i)
                           : i % 13 == 0 ? uuid(rng, true)
                                         : uuid(rng, false);
    const std::string user = users[rng() % std::size(users)];
    const std::string ns = namespaces[rng() % std::size(namespaces)];
    const std::string resource = resources[rng() % std::size(resources)];
    const std::string name = i % 6 == 0 ? user + "-obj" : "obj-" + std::to_string(rng() % 40);
    const std::string sep = i % 4 == 0 ? ": " : ":";
    std::vector<std::string> fields = {
        "\"kind\"" + sep + "\"Event\"",
        "\"apiVersion\":\"audit.k8s.io/v1\"",
        "\"level\"" + sep + "\"Metadata\"",
        "\"auditID\"" + sep + "\"" + id + "\"",
        "\"stage\":\"ResponseComplete\"",
        "\"requestURI\":\"/api/v1/namespaces/" + ns + "/" + resource + "/" + name + "?x=" + user +
            "\"",
        "\"verb\"" + sep + "\"" + verbs[rng() % std::size(verbs)] + "\"",
        "\"user\":{\"username\":\"" + user + "\",\"groups\":[\"system:authenticated\"" +
            (i % 3 == 0 ? ", \"g\\u00e9\"" : "") + "]}",
        "\"sourceIPs\":[\"10.0.0." + std::to_string(rng() % 9) + "\"" +
            (i % 7 == 0 ? ",\"::1\"" : "") + "]",
        "\"requestReceivedTimestamp\":\"" + stamp(received) + "\"",
        "\"stageTimestamp\"" + sep + "\"" + stamp(t) + "\"",
        "\"annotations\":{\"n\":" + std::string(i % 2 ? "-0.0" : "1e5") +
            ",\"copy\":\"" + id + " " + stamp(t) + "\",\"u\":\"\\u00e9\\t\"}",
    };
    if (i % 8 != 0) {
      fields.push_back("\"objectRef\":{\"resource\":\"" + resource + "\",\"namespace\":\"" + ns +
                       "\",\"name\":\"" + name + "\",\"apiVersion\":\"v1\"}");
    }
    if (i % 10 != 0) {
      fields.push_back("\"responseStatus\":{\"metadata\":{},\"code\"" + sep +
                       (i % 17 == 0 ? "403" : "200") + "}");
    }
    if (i % 5 != 0) {
      fields.push_back("\"userAgent\":\"kubectl/v1.29 (linux/amd64) \\u00a9 " + user + "\"");
    }
    if (i % 12 == 0) {
      fields.push_back("\"verb\":\"patch\"");  // a repeated key
    }
    if (i % 3 == 0) {
      std::shuffle(fields.begin(), fields.end(), rng);
    }
    out += i % 14 == 0 ? "{ " : "{";
    for (std::size_t f = 0; f < fields.size(); ++f) {
      out += (f ? "," : "") + fields[f];
    }
    out += i % 14 == 0 ? " }\n" : "}\n";
  }
  // A last event far later, so that every partition before it is due.
  out += "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\","
         "\"auditID\":\"00000000-0000-4000-8000-000000000001\",\"stage\":\"ResponseComplete\","
         "\"requestURI\":\"/api\",\"verb\":\"get\",\"user\":{\"username\":\"late\"},"
         "\"requestReceivedTimestamp\":\"2030-01-01T00:00:00.000000Z\","
         "\"stageTimestamp\":\"2030-01-01T00:00:00.000001Z\"}\n";
  return out;
}

std::vector<std::string> inputs(const std::string& odd) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(KTRAIL_SOURCE_DIR "/tests/data")) {
    if (e.path().extension() == ".jsonl") {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  files.push_back(odd);
  return files;
}

testing::CommandResult ingest(const std::string& db, const std::vector<std::string>& files,
                              bool seal) {
  std::vector<std::string> args = {"ingest", "--db", db};
  if (seal) {
    args.insert(args.end(), {"--seal-after", "1m", "--partition", "1h"});
  }
  args.insert(args.end(), files.begin(), files.end());
  return run_ktrail(args);
}

std::int64_t scalar(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  std::int64_t v = -1;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    v = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

void exec(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

// Every read of the whole store whose output must not depend on sealing.
std::vector<std::vector<std::string>> reads(const std::string& db) {
  return {
      {"query", "audit", "--db", db, "--since", kFrom, "--until", kTo, "--limit", "0", "-o",
       "json", "--stages", "all", "--full"},
      {"query", "audit", "--db", db, "--since", kFrom, "--until", kTo, "--limit", "0", "-o",
       "jsonl", "--full", "--user", "alice"},
      {"export", "--db", db},
      {"export", "--db", db, "--since", "2016-03-01T01:00:00Z", "--until", "2016-03-01T03:00:00Z"},
      {"query", "timeline", "--db", db, "--since", kFrom, "--until", kTo, "--stages", "all",
       "--limit", "0", "-o", "json"},
      {"report", "compliance", "--db", db, "--since", "2015-01-01T00:00:00Z", "--until",
       "2030-12-31T00:00:00Z", "--details", "-o", "json"},
      {"sql", "--db", db, "-o", "json",
       "SELECT key, ts, received, audit_id, stage, level, verb, username, groups, "
       "impersonated_user, resource, subresource, namespace, name, code, source_ips, user_agent "
       "FROM audit_events ORDER BY key"},
      {"sql", "--db", db, "SELECT verb, count(*), count(DISTINCT username) FROM audit_events "
                          "GROUP BY verb ORDER BY verb"},
  };
}

// A report says when it was made and when each writer started: those times (wherever they
// appear) are not the store's content.
std::string without_run_times(std::string out) {
  for (const std::string tag : {"\"generated\":\"", "\"policies\":[{\"since\":\""}) {
    const std::size_t at = out.find(tag);
    if (at == std::string::npos) {
      continue;
    }
    const std::size_t end = out.find('"', at + tag.size());
    const std::string now = out.substr(at + tag.size(), end - at - tag.size());
    for (std::size_t p = out.find(now); p != std::string::npos; p = out.find(now, p)) {
      out.replace(p, now.size(), "NOW");
    }
  }
  return out;
}

class SealedBytes : public ::testing::Test {
 protected:
  void SetUp() override {
    odd_ = dir_.file("odd.jsonl");
    std::ofstream(odd_) << odd_events(4000);
    files_ = inputs(odd_);
    plain_ = dir_.file("plain.db");
    sealed_ = dir_.file("sealed.db");
    auto a = ingest(plain_, files_, false);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    auto b = ingest(sealed_, files_, true);
    ASSERT_EQ(b.exit_code, 0) << b.err;
    const std::int64_t rows = scalar(plain_, "SELECT count(*) FROM audit");
    ASSERT_GT(rows, 4000);
    // All but the last partition is sealed.
    ASSERT_EQ(scalar(sealed_, "SELECT count(*) FROM audit"), 1);
    ASSERT_EQ(scalar(sealed_, "SELECT sum(count) FROM segments"), rows - 1);
  }
  TempDir dir_;
  std::string odd_, plain_, sealed_;
  std::vector<std::string> files_;
};

TEST_F(SealedBytes, EveryReadGivesTheUnsealedBytes) {
  const auto from_plain = reads(plain_);
  const auto from_sealed = reads(sealed_);
  for (std::size_t i = 0; i < from_plain.size(); ++i) {
    auto a = run_ktrail(from_plain[i]);
    auto b = run_ktrail(from_sealed[i]);
    ASSERT_EQ(a.exit_code, 0) << i << ": " << a.err;
    ASSERT_EQ(b.exit_code, 0) << i << ": " << b.err;
    EXPECT_GT(a.out.size(), 200u) << i;
    EXPECT_TRUE(without_run_times(a.out) == without_run_times(b.out))
        << "read " << i << " differs (" << a.out.size() << " and "
                                << b.out.size() << " bytes)";
  }
  // The hash chain holds, and an export re-ingested gives the same store.
  auto verified = run_ktrail({"verify", "--db", sealed_});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  const std::string exported = dir_.file("export.jsonl");
  ASSERT_EQ(run_ktrail({"export", "--db", sealed_, "--out", exported}).exit_code, 0);
  const std::string again = dir_.file("again.db");
  ASSERT_EQ(ingest(again, {exported}, false).exit_code, 0);
  auto x = run_ktrail(reads(plain_)[0]);
  auto y = run_ktrail(reads(again)[0]);
  EXPECT_TRUE(x.out == y.out);
  // The sealed originals take far less room than the unsealed blocks.
  EXPECT_LT(scalar(sealed_, "SELECT sum(length(data)) FROM segment_frames") * 2,
            scalar(plain_, "SELECT sum(length(data)) FROM event_blocks"));
}

TEST_F(SealedBytes, DamagedFramesFailLoudlyAndVerifyNamesTheSegment) {
  const std::int64_t segment = scalar(sealed_, "SELECT min(segment_id) FROM segment_frames");
  // A byte changed inside the compressed remainders: zstd's checksum or the layout catches it.
  exec(sealed_, "UPDATE segment_frames SET data = substr(data, 1, 40) || "
                "char((unicode(substr(data, 41, 1)) + 1) % 128) || substr(data, 42) "
                "WHERE segment_id = " + std::to_string(segment) + " AND frame = 0");
  auto q = run_ktrail(reads(sealed_)[0]);
  EXPECT_NE(q.exit_code, 0);
  auto e = run_ktrail(reads(sealed_)[2]);
  EXPECT_NE(e.exit_code, 0);
  auto v = run_ktrail({"verify", "--db", sealed_});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE((v.out + v.err).find("segment " + std::to_string(segment)), std::string::npos)
      << v.out << v.err;
  // A frame cut short.
  exec(sealed_, "UPDATE segment_frames SET data = substr(data, 1, 30) WHERE frame = 0");
  EXPECT_NE(run_ktrail(reads(sealed_)[2]).exit_code, 0);
}

// Frames are rewritten in the layout segments had before remainders (whole events, 4-byte
// offsets): they must read the same.
TEST_F(SealedBytes, FramesOfWholeEventsStillRead) {
  auto want = run_ktrail(reads(plain_)[2]);
  ASSERT_EQ(want.exit_code, 0);
  // The whole events of each segment, in key order, from the unsealed store's export.
  std::vector<std::string> lines;
  std::istringstream in(want.out);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  ASSERT_EQ(static_cast<std::int64_t>(lines.size()), scalar(plain_, "SELECT count(*) FROM audit"));
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(sealed_.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* segs = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT id, count FROM segments ORDER BY first_key", -1, &segs,
                               nullptr),
            SQLITE_OK);
  std::size_t at = 0;
  std::vector<std::pair<std::int64_t, std::vector<std::string>>> rewrites;
  while (sqlite3_step(segs) == SQLITE_ROW) {
    const std::int64_t id = sqlite3_column_int64(segs, 0);
    const auto count = static_cast<std::size_t>(sqlite3_column_int64(segs, 1));
    std::vector<std::string_view> events(lines.begin() + static_cast<std::ptrdiff_t>(at),
                                         lines.begin() + static_cast<std::ptrdiff_t>(at + count));
    rewrites.emplace_back(id, storage::encode_frames(events, 3));
    at += count;
  }
  sqlite3_finalize(segs);
  for (const auto& [id, frames] : rewrites) {
    for (std::size_t f = 0; f < frames.size(); ++f) {
      sqlite3_stmt* up = nullptr;
      sqlite3_prepare_v2(h, "UPDATE segment_frames SET data = ?3 WHERE segment_id = ?1 AND frame = ?2",
                         -1, &up, nullptr);
      sqlite3_bind_int64(up, 1, id);
      sqlite3_bind_int64(up, 2, static_cast<std::int64_t>(f));
      sqlite3_bind_blob(up, 3, frames[f].data(), static_cast<int>(frames[f].size()), SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(up), SQLITE_DONE);
      ASSERT_EQ(sqlite3_changes(h), 1);
      sqlite3_finalize(up);
    }
  }
  sqlite3_close(h);
  const auto a = reads(plain_);
  const auto b = reads(sealed_);
  for (const std::size_t i : {std::size_t{0}, std::size_t{2}, std::size_t{4}}) {
    auto x = run_ktrail(a[i]);
    auto y = run_ktrail(b[i]);
    ASSERT_EQ(y.exit_code, 0) << y.err;
    EXPECT_TRUE(x.out == y.out) << "read " << i;
  }
}

TEST(EventRemainder, StripsWhatTheTextsHoldAndRebuildsExactly) {
  storage::EventTexts t;
  t.text[storage::kTextAuditId] = "0f0e0d0c-0000-4000-8000-000000000001";
  t.text[storage::kTextVerb] = "get";
  t.text[storage::kTextCode] = "200";
  t.text[storage::kTextUser] = "alice";
  const std::string original =
      R"({"auditID":"0f0e0d0c-0000-4000-8000-000000000001","verb":"get","user":{"username":)"
      R"("alice"},"responseStatus":{"code":200},"note":"alice's"})";
  const std::string entry = storage::strip_event(original, t);
  ASSERT_EQ(entry[0], 'R');
  EXPECT_EQ(entry.find("alice"), std::string::npos);
  EXPECT_EQ(entry.find("0f0e0d0c"), std::string::npos);
  EXPECT_LT(entry.size() + 40, original.size());
  std::string back;
  ASSERT_TRUE(storage::rebuild_event(entry, t, &back).is_ok());
  EXPECT_EQ(back, original);

  // An original holding a marker byte, or a text that would not give it back, is kept whole.
  const std::string odd = std::string(R"({"verb":"get","x":")") + '\x01' + "\"}";
  EXPECT_EQ(storage::strip_event(odd, t), "V" + odd);
  ASSERT_TRUE(storage::rebuild_event("V" + odd, t, &back).is_ok());
  EXPECT_EQ(back, odd);

  // Hostile entries: an unknown form, a marker whose text the row does not have.
  EXPECT_FALSE(storage::rebuild_event("", t, &back).is_ok());
  EXPECT_FALSE(storage::rebuild_event("X{}", t, &back).is_ok());
  storage::EventTexts none;
  EXPECT_FALSE(storage::rebuild_event(entry, none, &back).is_ok());
}

TEST(EventRemainder, HostileFramesAreErrors) {
  const std::vector<std::string_view> entries = {"R{\x01}", "V{}"};
  const auto frames = storage::encode_frames(entries, 3, true);
  ASSERT_EQ(frames.size(), 1u);
  storage::UnpackedFrame f;
  ASSERT_TRUE(storage::unpack_frame(frames[0], &f).is_ok());
  ASSERT_TRUE(f.remainders);
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[1], "V{}");
  EXPECT_FALSE(storage::unpack_frame(frames[0].substr(0, frames[0].size() - 3), &f).is_ok());
  EXPECT_FALSE(storage::unpack_frame("", &f).is_ok());
  EXPECT_FALSE(storage::unpack_frame(std::string(1, storage::kRemainderFrame), &f).is_ok());
  // Lengths that run past the end, and a count above a frame's.
  for (const std::string& plain : {std::string("\x02\x05\x05{}"), std::string("\xff\x7f")}) {
    std::vector<std::string_view> one = {plain};
    // Build a frame around exactly these plain bytes: compress the layout by hand.
    const auto wrapped = storage::encode_frames(one, 3, false);
    storage::UnpackedFrame g;
    ASSERT_TRUE(storage::unpack_frame(wrapped[0], &g).is_ok());  // a whole-event frame of one
    std::string hostile = std::string(1, storage::kRemainderFrame) + wrapped[0];
    EXPECT_FALSE(storage::unpack_frame(hostile, &g).is_ok());
  }
}

}  // namespace
}  // namespace ktrail
