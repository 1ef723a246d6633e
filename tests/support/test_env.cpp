#include "tests/support/test_env.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ktrail::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ktrail-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

namespace {

bool run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace

std::string make_test_certs(const std::string& dir, TestCerts* c) {
  c->ca_cert = dir + "/ca.crt";
  c->server_cert = dir + "/server.crt";
  c->server_key = dir + "/server.key";
  c->client_cert = dir + "/client.crt";
  c->client_key = dir + "/client.key";
  c->other_client_cert = dir + "/other-client.crt";
  c->other_client_key = dir + "/other-client.key";
  const std::string d = "'" + dir + "'";
  write_file(dir + "/server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  write_file(dir + "/client.ext", "extendedKeyUsage=clientAuth\n");
  const std::string steps[] = {
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ktrail-test-ca -keyout " + d +
          "/ca.key -out " + d + "/ca.crt",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout " + d + "/server.key -out " +
          d + "/server.csr",
      "openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.crt -CAkey " + d +
          "/ca.key -CAcreateserial -days 2 -extfile " + d + "/server.ext -out " + d + "/server.crt",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout " + d +
          "/client.key -out " + d + "/client.csr",
      "openssl x509 -req -in " + d + "/client.csr -CA " + d + "/ca.crt -CAkey " + d +
          "/ca.key -CAcreateserial -days 2 -extfile " + d + "/client.ext -out " + d + "/client.crt",
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout " + d +
          "/other-ca.key -out " + d + "/other-ca.crt",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=intruder -keyout " + d +
          "/other-client.key -out " + d + "/other-client.csr",
      "openssl x509 -req -in " + d + "/other-client.csr -CA " + d + "/other-ca.crt -CAkey " + d +
          "/other-ca.key -CAcreateserial -days 2 -extfile " + d + "/client.ext -out " + d +
          "/other-client.crt",
  };
  for (const auto& step : steps) {
    if (!run(step)) {
      return "failed: " + step;
    }
  }
  return "";
}

std::string audit_item(const std::string& audit_id, const std::string& stage) {
  // Distinct events get distinct times (derived from the ID), as real traffic does.
  const std::size_t h = std::hash<std::string>{}(audit_id);
  char received[40];
  char staged[40];
  std::snprintf(received, sizeof(received), "2026-03-01T12:%02zu:%02zu.%06zuZ", h % 60,
                (h / 60) % 60, (h / 3600) % 1000000);
  std::snprintf(staged, sizeof(staged), "2026-03-01T13:%02zu:%02zu.%06zuZ", h % 60, (h / 60) % 60,
                (h / 3600) % 1000000);
  return R"({"level":"Metadata","auditID":")" + audit_id + R"(","stage":")" + stage +
         R"(","requestURI":"/api/v1/namespaces/default/pods/p1","verb":"get",)"
         R"("user":{"username":"alice","groups":["dev","system:authenticated"]},)"
         R"("sourceIPs":["10.0.0.7"],"userAgent":"kubectl/v1.30.0",)"
         R"("objectRef":{"resource":"pods","namespace":"default","name":"p1","apiVersion":"v1"},)"
         R"("responseStatus":{"metadata":{},"code":200},)"
         R"("requestReceivedTimestamp":")" +
         received + R"(","stageTimestamp":")" + staged + R"("})";
}

std::string event_list(const std::string& prefix, int n) {
  std::string out = R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[)";
  for (int i = 0; i < n; ++i) {
    out += (i ? "," : "") + audit_item(prefix + "-" + std::to_string(i));
  }
  out += "]}\n";
  return out;
}

}  // namespace ktrail::testing
