#!/usr/bin/env bash
# Installs what is missing, builds a Release binary and runs `ktrail serve` on the embedded
# default: http://127.0.0.1:8080, store ./ktrail.db. Extra arguments go to `ktrail serve`.
# KTRAIL_BIN=PATH serves with that binary instead of installing and building (the README test
# runs the README's `scripts/run.sh` this way, with the binary it tests).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ -n "${KTRAIL_BIN:-}" ]]; then
  exec "$KTRAIL_BIN" serve --listen 127.0.0.1:8080 --db ./ktrail.db "$@"
fi
KTRAIL_WITH_KAFKA=0 "$root/scripts/install-deps.sh"
dir=$("$root/scripts/build.sh" Release | tail -n 1)
exec "$dir/app/ktrail" serve --listen 127.0.0.1:8080 --db ./ktrail.db "$@"
