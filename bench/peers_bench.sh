#!/usr/bin/env bash
# ktrail beside DuckDB and chdb (ClickHouse in-process) on the same generated Metadata-level
# audit events: size per event, the four aggregations of issue 16 warm and cold, export of 1 M
# rows, load CPU per event, with ktrail's ratios (bench/peers/peers_bench.py says how).
#
# Usage: bench/peers_bench.sh [BUILD_DIR] [-- peers_bench.py options, e.g. --events 10000000]
# The peers come from PyPI into a virtual environment kept in ~/.cache/ktrail/peers-venv
# (versions printed); the stores and the generated file in --dir (default /tmp/ktrail-peers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
venv=${KTRAIL_PEERS_VENV:-$HOME/.cache/ktrail/peers-venv}
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "duckdb>=1.1" "chdb>=2.0"
"$venv/bin/python" - <<'PY'
import duckdb, chdb, platform
print(f"# duckdb {duckdb.__version__}, chdb {chdb.__version__}, Python {platform.python_version()}")
PY
cmake --build "$build" --target ktrail gen_audit >/dev/null
echo "# $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec nice "$venv/bin/python" "$root/bench/peers/peers_bench.py" --ktrail "$build/app/ktrail" \
  --gen "$build/bench/gen_audit" --python "$venv/bin/python" --dir /tmp/ktrail-peers "$@"
