// A small HTTP/1.1 client for tests and the load driver: plain or TLS (optionally with a client
// certificate), keep-alive, every operation bounded by a timeout so a test can fail but never
// hang. Also sends raw bytes, for hostile-input tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ktrail::testing {

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  bool tls = false;
  std::string ca_file;    // verify the server against this CA (TLS)
  std::string cert_file;  // client certificate (mutual TLS)
  std::string key_file;
  std::chrono::milliseconds timeout{10000};
};

struct ClientResponse {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  bool keep_alive = true;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Status connect();
  // Sends one request on the open connection (connecting first if needed) and reads the answer.
  // Content-Type defaults to application/json when a body is given and no type is set.
  Result<ClientResponse> request(const std::string& method, const std::string& target,
                                 const std::string& body = "", const Headers& headers = {});
  Status write_raw(const std::string& bytes);
  Result<ClientResponse> read_response();
  // Reads until the server closes the connection (or the timeout); returns the bytes read.
  std::string read_until_close();
  void close();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ktrail::testing
