#include "ingest/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "core/cluster.h"

namespace ktrail::ingest {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

TokenAuthenticator::Digest TokenAuthenticator::digest(std::string_view text) {
  Digest out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

Result<TokenAuthenticator> TokenAuthenticator::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return io_error("cannot read token file " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return from_text(text.str(), path);
}

Result<TokenAuthenticator> TokenAuthenticator::from_text(std::string_view text,
                                                         const std::string& origin) {
  TokenAuthenticator auth;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const std::string where = "token file " + origin + " line " + std::to_string(line_number);
    std::string_view token = line;
    std::string_view cluster;
    if (const auto comma = line.find(','); comma != std::string_view::npos) {
      token = trim(line.substr(0, comma));
      cluster = trim(line.substr(comma + 1));
      if (cluster.find(',') != std::string_view::npos) {
        return invalid_argument(where + ": more than one comma (expected TOKEN or TOKEN,cluster)");
      }
      if (token.empty()) {
        return invalid_argument(where + ": no token before the comma");
      }
      KTRAIL_RETURN_IF_ERROR(check_cluster_name(cluster, where + ": cluster name"));
    }
    for (const char c : token) {
      if (std::isspace(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) < 0x21 ||
          static_cast<unsigned char>(c) == 0x7f) {
        return invalid_argument(where + ": the token holds white space or a control character");
      }
    }
    const Digest d = digest(token);
    bool known = false;
    for (std::size_t i = 0; i < auth.digests_.size(); ++i) {
      if (auth.digests_[i] == d) {
        if (auth.clusters_[i] != cluster) {
          return invalid_argument(where + ": a token listed before names another cluster (a "
                                          "token names one cluster only)");
        }
        known = true;
      }
    }
    if (!known) {
      auth.digests_.push_back(d);
      auth.clusters_.emplace_back(cluster);
    }
  }
  if (auth.digests_.empty()) {
    return invalid_argument("token file " + origin + " holds no token");
  }
  return auth;
}

bool TokenAuthenticator::check(std::string_view authorization, std::string* cluster) const {
  authorization = trim(authorization);
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) {
    return false;
  }
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return false;
    }
  }
  const Digest presented = digest(trim(authorization.substr(kScheme.size())));
  // No early exit: every token is compared, so the time does not say which one matched.
  int matched = 0;
  std::size_t which = 0;
  for (std::size_t i = 0; i < digests_.size(); ++i) {
    const int same =
        CRYPTO_memcmp(digests_[i].data(), presented.data(), presented.size()) == 0 ? 1 : 0;
    which = same != 0 ? i : which;
    matched |= same;
  }
  if (matched != 0 && cluster != nullptr) {
    *cluster = clusters_[which];
  }
  return matched != 0;
}

}  // namespace ktrail::ingest
