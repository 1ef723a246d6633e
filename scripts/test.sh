#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, integration, and the Kafka
# tests against a real broker started on 127.0.0.1 for the run and stopped afterwards).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
# The same Release build that scripts/run.sh starts, so what is tested is what runs.
dir=$("$root/scripts/build.sh" Release | tail -n 1)
cd "$dir"
ctest --output-on-failure --timeout 600 -j 2 "$@"
# The policy engine against kube-apiserver's own code (k8s.io/apiserver, Go): tests/policy-oracle.
"$root/tests/policy-oracle/run.sh" "$dir/app/ktrail"
# A real Kubernetes control plane with ktrail as its audit webhook (scripts/k8s-e2e.sh), on a full run.
if (($# == 0)); then "$root/scripts/k8s-e2e.sh" "$dir/app/ktrail"; fi
