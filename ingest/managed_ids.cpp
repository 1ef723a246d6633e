#include "ingest/managed_ids.h"

#include <openssl/sha.h>

namespace ktrail::ingest {

std::string derived_audit_id(std::string_view record) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(record.data()), record.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      id += '-';
    }
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 0xf];
  }
  return id;
}

}  // namespace ktrail::ingest
