// The audit policy loader: whatever the bytes (YAML or JSON), it returns a policy or
// diagnostics without a sanitizer report, and a policy it accepts compiles.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "processors/policy/checker.h"
#include "processors/policy/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ktrail::policy::LoadedPolicy loaded = ktrail::policy::parse_policy(text, "<fuzz>");
  if (loaded.ok() && !ktrail::policy::CompiledPolicy::compile(loaded.policy).is_ok()) {
    std::fprintf(stderr, "a policy the loader accepts does not compile\n");
    std::abort();
  }
  return 0;
}
