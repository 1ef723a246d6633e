#!/usr/bin/env bash
# Differential test of ktrail's audit policy engine against kube-apiserver's own code
# (k8s.io/apiserver v0.37.2): random policies x requests, and random or mutated policy files.
# usage: tests/policy-oracle/run.sh KTRAIL_BINARY [-seed N] [-policies N] [-events N] [-files N] [-keep DIR]
# The budget defaults to 200 policies x 100 requests and 400 files; a failure prints the seed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -lt 1 ]]; then
  echo "usage: $0 KTRAIL_BINARY [-seed N] [-policies N] [-events N] [-files N] [-keep DIR]" >&2
  exit 2
fi
ktrail=$(realpath "$1")
shift
if ! command -v go >/dev/null; then
  echo "policy-oracle: go is not installed; it needs Go 1.26 or later" >&2
  exit 1
fi
cd "$here"
exec go test -count=1 -timeout 20m -v -run 'TestDecisions|TestFiles' . -args -ktrail "$ktrail" "$@"
