// Helpers shared by the storage tests: a temporary directory and small event builders.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "core/audit_event.h"
#include "core/audit_json.h"
#include "core/batch.h"
#include "storage/store.h"

namespace ktrail::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("ktrail-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The first column of the first row of `sql` on the store's own connection; -1 without a row.
inline std::int64_t scalar(Store& store, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(store.handle(), sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  std::int64_t value = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return value;
}

// An audit event built through the real decoder, so `json` and the fields agree.
inline AuditEvent make_event(const std::string& id, const std::string& stage,
                             const std::string& received, const std::string& stage_time,
                             const std::string& user = "alice", const std::string& verb = "get",
                             const std::string& resource = "pods",
                             const std::string& ns = "default", const std::string& name = "web",
                             int code = 200) {
  std::string json = R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",)"
                     R"("auditID":")" +
                     id + R"(","stage":")" + stage +
                     R"(","requestURI":"/x",)"
                     R"("verb":")" +
                     verb + R"(","user":{"username":")" + user +
                     R"(","groups":["system:authenticated"]},"sourceIPs":["10.0.0.1"],)"
                     R"("userAgent":"kubectl/v1.29","objectRef":{"resource":")" +
                     resource + R"(","namespace":")" + ns + R"(","name":")" + name +
                     R"(","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":)" +
                     std::to_string(code) + R"(},"requestReceivedTimestamp":")" + received +
                     R"(","stageTimestamp":")" + stage_time + R"("})";
  DecodedAudit out;
  decode_audit_line(json, &out);
  return out.events.at(0);
}

// Every line of a JSONL file in tests/data, decoded.
inline DecodedAudit read_data_file(const std::string& name) {
  std::ifstream in(std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + name);
  DecodedAudit out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) {
      decode_audit_line(line, &out);
    }
  }
  return out;
}

}  // namespace ktrail::testing
