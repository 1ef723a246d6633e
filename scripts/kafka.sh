#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker (KRaft, combined broker/controller) on 127.0.0.1 for
# the Kafka tests and for local use, built only from Maven Central jars.
#
#   scripts/kafka.sh up       resolve jars (cached), format storage once, start, wait until ready
#   scripts/kafka.sh down     SIGTERM, wait for a clean shutdown (SIGKILL after the deadline)
#   scripts/kafka.sh status   exit 0 and print the pid when running and answering, 1 otherwise
#
# Environment:
#   KAFKA_PORT             client port (default 9092)
#   KAFKA_CONTROLLER_PORT  controller port (default KAFKA_PORT + 1)
#   KAFKA_STATE_DIR        data, logs and pid file (default .kafka/port-$KAFKA_PORT in the repo)
#   KAFKA_LIB_DIR          resolved jars (default .kafka/lib in the repo; shared by all states)
#   KAFKA_HEAP             JVM heap (default 512m)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   KAFKA_STOP_TIMEOUT     seconds to wait for a clean shutdown (default 60)
#   KAFKA_FRESH=1          wipe the state directory before `up` (tests start from nothing)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
conf_dir="$root/scripts/kafka"
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
state=${KAFKA_STATE_DIR:-$root/.kafka/port-$port}
lib=${KAFKA_LIB_DIR:-$root/.kafka/lib}
heap=${KAFKA_HEAP:-512m}
start_timeout=${KAFKA_START_TIMEOUT:-90}
stop_timeout=${KAFKA_STOP_TIMEOUT:-60}
pid_file="$state/kafka.pid"
log_file="$state/kafka.log"

say() { echo "kafka.sh: $*" >&2; }

# Prints the broker's pid when the pid file names a live Kafka process.
running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: the process must be our broker.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $state/server.properties" || return 1
  echo "$pid"
}

# Sends a real Metadata (v0) request and succeeds when the reply lists at least one broker.
metadata_ok() {
  perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0], Timeout => 3)
      or exit 1;
    my $client = "ktrail-kafka-sh";
    # api_key 3 (Metadata), version 0, correlation id 7, client id, empty topic list (= all).
    my $body = pack("n n N n/a* N", 3, 0, 7, $client, 0);
    print $s pack("N", length $body) . $body;
    $s->flush;
    my $hdr = "";
    local $SIG{ALRM} = sub { exit 1 }; alarm 5;
    while (length $hdr < 4) { my $n = sysread($s, $hdr, 4 - length $hdr, length $hdr); exit 1 unless $n; }
    my $len = unpack("N", $hdr);
    my $buf = "";
    while (length $buf < $len) { my $n = sysread($s, $buf, $len - length $buf, length $buf); exit 1 unless $n; }
    my ($corr, $brokers) = unpack("N N", $buf);
    exit(($corr == 7 && $brokers >= 1) ? 0 : 1);
  ' "$port"
}

# Copies Kafka's runtime classpath into $lib; Maven's local repository caches the downloads,
# and a stamp of the pom skips the copy when nothing changed.
resolve_jars() {
  local stamp="$lib/.pom.sha256"
  local want
  want=$(sha256sum "$conf_dir/pom.xml" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "$lib/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || { say "mvn not found (scripts/install-deps.sh installs it)"; return 1; }
  say "resolving Kafka jars into $lib"
  rm -rf "$lib"
  mkdir -p "$lib"
  (cd "$conf_dir" && mvn -B -q dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$lib") >&2
  echo "$want" >"$stamp"
}

write_config() {
  mkdir -p "$state/data"
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" \
    -e "s|@DATA_DIR@|$state/data|g" "$conf_dir/server.properties.in" >"$state/server.properties"
}

# Formats KRaft storage once; meta.properties marks a formatted directory.
format_storage() {
  [[ -f "$state/data/meta.properties" ]] && return 0
  local tools=(java -Xmx256m "-Dlog4j.configuration=file:$conf_dir/tools-log4j.properties"
    -cp "$lib/*" kafka.tools.StorageTool)
  local cluster_id
  cluster_id=$("${tools[@]}" random-uuid)
  "${tools[@]}" format -t "$cluster_id" -c "$state/server.properties" >&2
}

cmd_up() {
  local pid
  if pid=$(running_pid); then
    if metadata_ok; then
      say "already running (pid $pid) on 127.0.0.1:$port"
      return 0
    fi
    say "pid $pid is alive but not answering; stopping it first"
    cmd_down
  fi
  command -v java >/dev/null || { say "java not found (scripts/install-deps.sh installs it)"; return 1; }
  if [[ "${KAFKA_FRESH:-0}" == "1" ]]; then
    rm -rf "$state"
  fi
  mkdir -p "$state/logs"
  resolve_jars
  write_config
  format_storage
  local started=$SECONDS
  # setsid: the broker outlives the shell that started it (ctest fixtures, CI steps).
  setsid java "-Xms$heap" "-Xmx$heap" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 \
    -XX:ActiveProcessorCount=2 -Djava.awt.headless=true \
    "-Dkafka.logs.dir=$state/logs" "-Dlog4j.configuration=file:$conf_dir/log4j.properties" \
    -cp "$lib/*" kafka.Kafka "$state/server.properties" >"$log_file" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pid_file"
  local deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "broker exited during start-up; last lines of $log_file:"
      tail -n 30 "$log_file" >&2
      rm -f "$pid_file"
      return 1
    fi
    if grep -q "Kafka Server started" "$log_file" && metadata_ok; then
      say "ready on 127.0.0.1:$port (pid $pid, $((SECONDS - started)) s)"
      return 0
    fi
    sleep 0.2
  done
  say "not ready after ${start_timeout}s; last lines of $log_file:"
  tail -n 30 "$log_file" >&2
  cmd_down || true
  return 1
}

cmd_down() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pid_file"
    say "not running"
    return 0
  fi
  # SIGTERM runs the broker's shutdown hook; SIGKILL would force log recovery next time.
  kill -TERM "$pid"
  local deadline=$((SECONDS + stop_timeout))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "no clean shutdown after ${stop_timeout}s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  say "stopped"
}

cmd_status() {
  local pid
  if pid=$(running_pid) && metadata_ok; then
    local rss
    rss=$(ps -o rss= -p "$pid" | tr -d ' ')
    echo "running pid=$pid port=$port rss_kib=$rss state=$state"
    return 0
  fi
  echo "not running (port $port)"
  return 1
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *)
    echo "usage: scripts/kafka.sh up|down|status" >&2
    exit 2
    ;;
esac
