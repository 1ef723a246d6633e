#!/usr/bin/env bash
# Builds ktrail and the tests that fit CI's budget with AddressSanitizer + UndefinedBehaviorSanitizer
# (clang, build/sanitize, -O1 with line tables), and runs them, two at a time; any report stops
# the test that hit it and fails the stage (exit 1). scripts/test.sh runs it on a full run. The
# same build holds the libFuzzer targets (scripts/fuzz.sh), so both stages share one compilation.
#
# Run under the sanitizers (the tests covering decoders, processors, storage and detection):
#   core_test (audit and Event decoders, JSON), redact_test, policy_test, correlate_test
#   (processors), storage_test, storage_timeline_test, storage_codec_test (storage),
#   detect_test, report_test, ingest_test (HTTP server, TLS, queue)                  (unit)
#   integration_test (ktrail serve / ingest over real sockets and files, the binary itself
#   sanitized), secrets_property_test                                               (integration)
# Not run here: the Kafka tests (a broker per run), app_test, query_test and the CLI tests
# (the same code paths through the binary are in integration_test), the Go differential and
# end-to-end tests.
#
# Usage: scripts/sanitize.sh [--configure-only]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${KTRAIL_SANITIZE_DIR:-$root/build/sanitize}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# -gline-tables-only: reports name file:line, at a fraction of full debug info's build time.
CXX=clang++ CC=clang cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" -DKTRAIL_SANITIZE=ON -DKTRAIL_FUZZ=ON \
  "${launcher[@]}" >/dev/null

# Longest first, so that the two runners finish close together.
tests=(storage_test integration_test policy_test correlate_test core_test secrets_property_test
  ingest_test storage_timeline_test detect_test report_test redact_test storage_codec_test)
# --configure-only: scripts/fuzz.sh configures the shared build this way, then builds its own targets.
if [[ "${1:-}" == "--configure-only" ]]; then
  exit 0
fi
start=$SECONDS
cmake --build "$dir" -j "$(nproc)" --target ktrail "${tests[@]}"
echo "== sanitizer build: $((SECONDS - start)) s"

# halt_on_error: the first report ends the process with an error; the integration tests' ktrail
# processes inherit these settings.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
run_one() {
  local t=$1 began=$SECONDS
  if "$dir/tests/$t" --gtest_brief=1 >"$logs/$t.log" 2>&1; then
    echo "== $t: passed, $((SECONDS - began)) s"
  else
    echo "== $t: FAILED (ASan+UBSan), $((SECONDS - began)) s"
    tail -n 80 "$logs/$t.log"
    touch "$logs/$t.failed"
  fi
}
jobs=2
for t in "${tests[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_one "$t" &
done
wait
failed=()
for t in "${tests[@]}"; do
  if [[ -e "$logs/$t.failed" ]]; then failed+=("$t"); fi
done
echo "== sanitizer stage: $((SECONDS - start)) s"
if ((${#failed[@]} > 0)); then
  echo "sanitizer stage failed: ${failed[*]}" >&2
  exit 1
fi
