// Bearer-token authentication of webhook requests (`ktrail serve --token-file`).
//
// The token file holds one token per line, `TOKEN` or `TOKEN,cluster-name`: a token that names
// a cluster (core/cluster.h) authenticates that cluster's apiserver, and everything it sends
// belongs to that cluster. Blank lines and lines starting with '#' are ignored, surrounding
// white space is trimmed. A token may name one cluster only (the same token twice with two
// clusters is an error); a cluster may have several tokens (rotation). Malformed lines are
// errors naming the file and line, never the token. A request is authenticated when its
// `Authorization: Bearer <token>` header carries one of the tokens. The comparison takes the
// same time whatever the token: both sides are hashed (SHA-256) and every known token is
// compared with CRYPTO_memcmp, so neither a prefix nor a length leaks through timing.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ktrail::ingest {

class TokenAuthenticator {
 public:
  static Result<TokenAuthenticator> from_file(const std::string& path);
  static Result<TokenAuthenticator> from_text(std::string_view text, const std::string& origin);

  // `authorization` is the raw header value ("Bearer abc"); the scheme is case-insensitive.
  // On a match, `cluster` (when given) is set to the cluster the token names, "" for none.
  bool check(std::string_view authorization, std::string* cluster = nullptr) const;
  std::size_t size() const { return digests_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest digest(std::string_view text);
  std::vector<Digest> digests_;
  std::vector<std::string> clusters_;  // parallel to digests_; "" where a token names none
};

}  // namespace ktrail::ingest
