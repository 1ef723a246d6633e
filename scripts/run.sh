#!/usr/bin/env bash
# Installs what is missing, builds a Release binary and runs `ktrail serve` on the embedded
# default: http://127.0.0.1:8080, store ./ktrail.db. Extra arguments go to `ktrail serve`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
KTRAIL_WITH_KAFKA=0 "$root/scripts/install-deps.sh"
dir=$("$root/scripts/build.sh" Release | tail -n 1)
exec "$dir/app/ktrail" serve --listen 127.0.0.1:8080 --db ./ktrail.db "$@"
