#!/usr/bin/env bash
# Builds ktrail and the tests that fit CI's budget with AddressSanitizer + UndefinedBehaviorSanitizer
# (clang, build/sanitize, -O1), and runs them; any report stops the test that hit it and fails
# the stage. Not yet called by scripts/test.sh. The same build holds the libFuzzer targets (scripts/fuzz.sh), so both stages share
# one compilation.
#
# Run under the sanitizers (unit tests and the integration tests that fit):
#   core_test, redact_test, ingest_test, storage_codec_test                (unit)
#   integration_test (ktrail serve / ingest over real sockets and files, the binary itself
#   sanitized), secrets_property_test                                      (integration)
# Not run here: the Kafka tests (a broker per run), policy_test (the policy loader is fuzzed
# instead, fuzz_policy_loader), storage_test and query tests (the store's
# large-volume cases take minutes under ASan), the Go differential and end-to-end tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${KTRAIL_SANITIZE_DIR:-$root/build/sanitize}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
CXX=clang++ CC=clang cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DKTRAIL_SANITIZE=ON -DKTRAIL_FUZZ=ON \
  "${launcher[@]}" >/dev/null

tests=(core_test redact_test ingest_test storage_codec_test integration_test
  secrets_property_test)
# --configure-only: scripts/fuzz.sh configures the shared build this way, then builds its own targets.
if [[ "${1:-}" == "--configure-only" ]]; then
  exit 0
fi
cmake --build "$dir" -j "$(nproc)" --target ktrail "${tests[@]}"

# halt_on_error: the first report ends the process with an error; the integration tests' ktrail
# processes inherit these settings.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
for t in "${tests[@]}"; do
  echo "== $t (ASan+UBSan)"
  start=$SECONDS
  if ! "$dir/tests/$t" --gtest_brief=1; then
    failed+=("$t")
  fi
  echo "== $t: $((SECONDS - start)) s"
done
if ((${#failed[@]} > 0)); then
  echo "sanitizer stage failed: ${failed[*]}" >&2
  exit 1
fi
