// Test helpers shared by the ingest unit tests and the integration tests: temporary
// directories, test certificates made with the openssl CLI, and
// audit-event fixtures.
#pragma once

#include <string>

namespace ktrail::testing {

// A fresh directory under $TMPDIR, removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A CA, a server certificate for 127.0.0.1 signed by it, a client certificate signed by it,
// and a second CA with a client certificate of its own (which the server must refuse).
struct TestCerts {
  std::string ca_cert, server_cert, server_key, client_cert, client_key;
  std::string other_client_cert, other_client_key;
};
// Writes them into `dir` with the openssl CLI; an empty string is returned on success, else why.
std::string make_test_certs(const std::string& dir, TestCerts* certs);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

// One audit.k8s.io/v1 event (as an EventList item: no kind/apiVersion) with a given auditID.
std::string audit_item(const std::string& audit_id, const std::string& stage = "ResponseComplete");
// An EventList of `n` items whose auditIDs are `<prefix>-0` ... `<prefix>-(n-1)`.
std::string event_list(const std::string& prefix, int n);

}  // namespace ktrail::testing
