#include "ingest/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>
#include <fstream>
#include <sstream>

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
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    auth.digests_.push_back(digest(line));
  }
  if (auth.digests_.empty()) {
    return invalid_argument("token file " + origin + " holds no token");
  }
  return auth;
}

bool TokenAuthenticator::check(std::string_view authorization) const {
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
  for (const Digest& known : digests_) {
    matched |= CRYPTO_memcmp(known.data(), presented.data(), presented.size()) == 0 ? 1 : 0;
  }
  return matched != 0;
}

}  // namespace ktrail::ingest
