#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. ctest: unit and integration tests, and the Kafka tests against a real broker started on
#      127.0.0.1 for the run and stopped afterwards (arguments go to ctest);
#   2. the policy engine against kube-apiserver's own code (tests/policy-oracle, Go);
#   3. on a full run (no arguments): the sanitizer stage (scripts/sanitize.sh: the decoders,
#      processors, storage, detection, HTTP server and the binary itself under ASan + UBSan) and
#      the fuzz stage (scripts/fuzz.sh: every libFuzzer target from its committed corpus, in the
#      same clang build); a real Kubernetes control plane with ktrail as its audit webhook
#      (scripts/k8s-e2e.sh, which also dry-runs deploy/kubernetes against it); then the
#      deployment files (scripts/deploy-check.sh: the runtime image, manifests, systemd unit).
# Each stage prints its own duration; a failing stage stops the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stage() {
  local name=$1 began=$SECONDS
  shift
  "$@"
  echo "== test stage '$name' passed in $((SECONDS - began)) s"
}
stage install-deps "$root/scripts/install-deps.sh"
# The same Release build that scripts/run.sh starts, so what is tested is what runs.
began=$SECONDS
dir=$("$root/scripts/build.sh" Release | tail -n 1)
echo "== test stage 'build' passed in $((SECONDS - began)) s"
stage ctest bash -c 'cd "$1" && shift && ctest --output-on-failure --timeout 600 -j 2 "$@"' _ "$dir" "$@"
stage policy-oracle "$root/tests/policy-oracle/run.sh" "$dir/app/ktrail"
if (($# == 0)); then
  stage sanitize "$root/scripts/sanitize.sh"
  stage fuzz "$root/scripts/fuzz.sh" "${KTRAIL_FUZZ_SECONDS:-30}"
  stage k8s-e2e "$root/scripts/k8s-e2e.sh" "$dir/app/ktrail"
  stage deploy-check "$root/scripts/deploy-check.sh" --binary "$dir/app/ktrail" \
    --kubectl "${KTRAIL_E2E_CACHE:-${HOME:-/root}/.cache/ktrail}/k8s-v1.37.2/bin/kubectl"
fi
