#include "app/policy_record.h"

#include <openssl/evp.h>

#include <fstream>
#include <sstream>

namespace ktrail::app {
namespace {

std::string sha256_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace

Status record_processing_policy(Store& store, const AuditProcessingOptions& options,
                                const std::string& source) {
  std::ostringstream text;
  text << "max-event-bytes: " << options.max_event_bytes << "\n"
       << "redact-secrets: " << (options.redact_secrets ? "true" : "false") << "\n";
  if (options.policy_file.empty()) {
    text << "policy: none (events kept at the level they arrived with)\n";
  } else {
    std::ifstream in(options.policy_file, std::ios::binary);
    if (!in) {
      return io_error("cannot read the policy file '" + options.policy_file + "' again");
    }
    text << "policy: " << options.policy_file << "\n---\n" << in.rdbuf();
  }
  const std::string all = text.str();
  return store.record_policy(source, sha256_hex(all), all, SystemClock().now());
}

}  // namespace ktrail::app
