#!/usr/bin/env bash
# Installs the Debian packages ktrail needs to build, test and benchmark, when any is missing.
# (chromium: the compliance report's HTML page is rendered in headless Chromium by its test.)
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  librdkafka-dev rapidjson-dev libspdlog-dev libfmt-dev
  libboost-dev libboost-program-options-dev libssl-dev
  libyaml-cpp-dev libsqlite3-dev libzstd-dev zlib1g-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  sqlite3 curl openssl ca-certificates ccache
  # The shell completion test runs the scripts in each shell.
  bash zsh fish
  # The sanitizer and fuzzing stages (scripts/sanitize.sh, scripts/fuzz.sh): clang and libFuzzer.
  clang libclang-rt-14-dev
  # The compliance report test renders the HTML page in headless Chromium.
  chromium
)
# The Kafka tests run a real broker from Maven Central jars.
if [[ "${KTRAIL_WITH_KAFKA:-1}" == "1" ]]; then
  packages+=(openjdk-17-jre-headless maven)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # A JDK or Maven installed outside Debian's packages is fine too.
    case "$p" in
      openjdk-17-jre-headless) command -v java >/dev/null && continue ;;
      maven) command -v mvn >/dev/null && continue ;;
    esac
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
