#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (in build/sanitize, with ASan + UBSan, the build
# scripts/sanitize.sh makes) and runs each for a fixed time from its committed seed corpus
# (tests/fuzz/corpus/<target>, which holds every past finding as a regression case: each is run
# first, so an old bug that comes back fails at once). New inputs found during the run go to a
# scratch directory, not to the repository. A crash leaves its input in build/sanitize/fuzz-findings/.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30: six targets, about 3 minutes after
# the build). Exit 1 when any target finds a crash, a sanitizer report, a leak or a hang.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${KTRAIL_SANITIZE_DIR:-$root/build/sanitize}
seconds=${1:-30}
targets=(fuzz_audit_decoder fuzz_event_decoder fuzz_policy_loader fuzz_block_codec
  fuzz_secret_redaction fuzz_detect_rules)
"$root/scripts/sanitize.sh" --configure-only
start=$SECONDS
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
echo "== fuzz build: $((SECONDS - start)) s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
findings="$dir/fuzz-findings"
mkdir -p "$findings"
failed=()
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  echo "== $t: ${seconds} s from tests/fuzz/corpus/$t"
  # -timeout: one input taking over 10 s is a finding (a hang); -rss_limit_mb bounds memory.
  if ! "$dir/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/$t-" \
      "$scratch" "$root/tests/fuzz/corpus/$t" 2>"$scratch.log"; then
    tail -n 60 "$scratch.log" >&2
    failed+=("$t")
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$scratch.log" | tr '\n' ' '
    echo
  fi
  rm -rf "$scratch" "$scratch.log"
done
echo "== fuzz stage: $((SECONDS - start)) s"
if ((${#failed[@]} > 0)); then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in $findings)" >&2
  exit 1
fi
