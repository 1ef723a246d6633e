#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. ctest: unit and integration tests, and the Kafka tests against a real broker started on
#      127.0.0.1 for the run and stopped afterwards (arguments go to ctest);
#   2. the policy engine against kube-apiserver's own code (tests/policy-oracle, Go);
#   3. on a full run (no arguments): a real Kubernetes control plane with ktrail as its audit
#      webhook (scripts/k8s-e2e.sh, which also dry-runs deploy/kubernetes against it), then the
#      deployment files (scripts/deploy-check.sh: the runtime image, manifests, systemd unit).
# scripts/sanitize.sh (ASan + UBSan) and scripts/fuzz.sh (libFuzzer) run on their own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
# The same Release build that scripts/run.sh starts, so what is tested is what runs.
dir=$("$root/scripts/build.sh" Release | tail -n 1)
(cd "$dir" && ctest --output-on-failure --timeout 600 -j 2 "$@")
"$root/tests/policy-oracle/run.sh" "$dir/app/ktrail"
if (($# == 0)); then
  "$root/scripts/k8s-e2e.sh" "$dir/app/ktrail"
  "$root/scripts/deploy-check.sh" --binary "$dir/app/ktrail" \
    --kubectl "${KTRAIL_E2E_CACHE:-${HOME:-/root}/.cache/ktrail}/k8s-v1.37.2/bin/kubectl"
fi
