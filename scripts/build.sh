#!/usr/bin/env bash
# Configures and builds ktrail. Usage: scripts/build.sh [BUILD_TYPE] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
type=${1:-Release}
dir=${2:-$root/build/$(echo "$type" | tr '[:upper:]' '[:lower:]')}
launcher=()
# ccache, when present, makes rebuilds of unchanged sources (another checkout, a clean build) cheap.
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "${launcher[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
echo "$dir"
