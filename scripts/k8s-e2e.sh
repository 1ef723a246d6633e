#!/usr/bin/env bash
# End-to-end test of ktrail against a real Kubernetes control plane on 127.0.0.1.
#
# Builds kube-apiserver, kube-controller-manager and kube-scheduler v1.37.2 and etcd v3.6.16
# from the Go module proxy (cached by version under $KTRAIL_E2E_CACHE, default ~/.cache/ktrail;
# the Go build cache makes rebuilds of the test driver quick), makes a PKI with openssl, starts
# etcd, ktrail serve (HTTPS + bearer token, the kubeconfig of docs/webhook.md), kube-apiserver
# (audit webhook to ktrail, and --audit-log-path as ground truth), kube-controller-manager and
# kube-scheduler, then runs the scenarios of tests/e2e/k8s/driver (simulated kubelets and users;
# ktrail is killed with SIGKILL in each scenario), stops everything and checks what ktrail
# stored and correlated against the apiserver's own audit log.
#
# Usage: scripts/k8s-e2e.sh [KTRAIL_BINARY]   (default build/release/app/ktrail)
# Environment: KTRAIL_E2E_CACHE (binaries), KTRAIL_E2E_KEEP=1 (keep the work directory).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
k8s_version=v1.37.2
etcd_version=v3.6.16
# Go's module and build caches live under HOME; a CI environment may not set it.
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
cache=${KTRAIL_E2E_CACHE:-$HOME/.cache/ktrail}
ktrail=$(realpath "${1:-$root/build/release/app/ktrail}")
t0=$SECONDS

say() { printf '[k8s-e2e %4ds] %s\n' $((SECONDS - t0)) "$*"; }
die() { say "FAILED: $*" >&2; exit 1; }

command -v go >/dev/null || die "Go (1.26 or newer) is needed to build the control plane"
command -v openssl >/dev/null || die "openssl is needed"
[[ -x $ktrail ]] || die "no ktrail binary at $ktrail (scripts/build.sh Release builds it)"

# --- binaries ---------------------------------------------------------------------------------
k8s_bin=$cache/k8s-$k8s_version/bin
etcd_bin=$cache/etcd-$etcd_version/bin
build_start=$SECONDS
if [[ -x $k8s_bin/kube-apiserver && -x $k8s_bin/kube-controller-manager && -x $k8s_bin/kube-scheduler && -x $k8s_bin/kubectl ]]; then
  say "reusing kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $k8s_version from $k8s_bin"
else
  say "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $k8s_version (20-40 minutes cold on 2 cores)"
  mkdir -p "$k8s_bin"
  (cd "$root/tests/e2e/k8s/controlplane" && GOFLAGS="-p=2 -buildvcs=false" go build -trimpath \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" \
    -o "$k8s_bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
fi
if [[ -x $etcd_bin/etcd ]]; then
  say "reusing etcd $etcd_version from $etcd_bin"
else
  say "building etcd $etcd_version"
  mkdir -p "$etcd_bin"
  (cd "$root/tests/e2e/k8s/etcd" && GOFLAGS="-p=2 -buildvcs=false" go build -trimpath -ldflags "-s -w" -o "$etcd_bin/etcd" .)
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ktrail-k8s-e2e.XXXXXX")
(cd "$root/tests/e2e/k8s/driver" && GOFLAGS="-buildvcs=false" go build -trimpath -o "$work/e2e" .)
say "binaries ready: build step took $((SECONDS - build_start)) s"

# --- processes, stopped on exit -----------------------------------------------------------------
declare -A pids=()
cleanup() {
  local rc=$?
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [[ -n ${pids[$name]:-} ]] && kill -9 "${pids[$name]}" 2>/dev/null || true
  done
  if [[ -f $work/ktrail.pid ]]; then kill -9 "$(cat "$work/ktrail.pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [[ $rc -ne 0 || ${KTRAIL_E2E_KEEP:-0} == 1 ]]; then
    say "work directory kept: $work (logs/, audit.log, ktrail.db)"
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_until SECONDS WHAT COMMAND...: polls COMMAND until it succeeds; fails after SECONDS, or
# at once when a started process has exited.
wait_until() {
  local limit=$1 what=$2 end=$((SECONDS + $1)) name
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "$what not within $limit s"
    for name in "${!pids[@]}"; do
      alive "${pids[$name]}" || die "$name exited while waiting for $what (see $work/logs/$name.log)"
    done
    sleep 0.3
  done
}
# alive PID: the process exists and is not a zombie.
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [[ $s != Z* ]]; }
# stop NAME PID: SIGTERM, then wait for the exit (deadline), SIGKILL past it.
stop() {
  local name=$1 pid=$2 end=$((SECONDS + 60))
  kill "$pid" 2>/dev/null || return 0
  while alive "$pid"; do
    if ((SECONDS >= end)); then
      say "$name did not stop within 60 s of SIGTERM; SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  wait "$pid" 2>/dev/null || true
}

mkdir -p "$work/pki" "$work/logs"
pki=$work/pki
read -r p_etcd p_peer p_api p_ktrail < <("$work/e2e" ports 4 | xargs)

# --- PKI ----------------------------------------------------------------------------------------
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# cert CA NAME SUBJECT EXTENSIONS
cert() {
  ec "$pki/$2.key"
  openssl req -new -key "$pki/$2.key" -subj "$3" -out "$pki/$2.csr" 2>/dev/null
  printf '%s\n' "$4" >"$pki/$2.ext"
  openssl x509 -req -in "$pki/$2.csr" -CA "$pki/$1.crt" -CAkey "$pki/$1.key" -CAcreateserial -days 2 \
    -extfile "$pki/$2.ext" -out "$pki/$2.crt" 2>/dev/null
}
for ca in ca ktrail-ca; do
  ec "$pki/$ca.key"
  openssl req -x509 -new -key "$pki/$ca.key" -subj "/CN=e2e-$ca" -days 2 -out "$pki/$ca.crt" 2>/dev/null
done
server_ext=$'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'
client_ext='extendedKeyUsage=clientAuth'
cert ca apiserver /CN=kube-apiserver "$server_ext"
cert ktrail-ca ktrail /CN=ktrail "$server_ext"
cert ca admin "/O=system:masters/CN=e2e-admin" "$client_ext"
cert ca kube-controller-manager /CN=system:kube-controller-manager "$client_ext"
cert ca kube-scheduler /CN=system:kube-scheduler "$client_ext"
cert ca alice "/O=e2e:operators/CN=alice" "$client_ext"
for node in node-short node-short-2 node-long node-long-2 node-drain node-drain-2 node-crash; do
  cert ca "$node" "/O=system:nodes/CN=system:node:$node" "$client_ext"
done
ec "$pki/sa.key"
openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
openssl rand -hex 32 >"$pki/ktrail.tokens"
say "PKI made"

kubeconfig() { # NAME: a kubeconfig for the client certificate NAME
  cat >"$work/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$p_api
    certificate-authority: $pki/ca.crt
users:
- name: $1
  user:
    client-certificate: $pki/$1.crt
    client-key: $pki/$1.key
contexts:
- name: e2e
  context:
    cluster: e2e
    user: $1
current-context: e2e
EOF
}
kubeconfig kube-controller-manager
kubeconfig kube-scheduler

# The webhook kubeconfig of docs/webhook.md ("HTTPS + bearer token"), with this run's names.
cat >"$work/ktrail-webhook.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ktrail
  cluster:
    server: https://127.0.0.1:$p_ktrail/audit
    certificate-authority: $pki/ktrail-ca.crt
users:
- name: kube-apiserver
  user:
    token: $(cat "$pki/ktrail.tokens")
contexts:
- name: ktrail
  context:
    cluster: ktrail
    user: kube-apiserver
current-context: ktrail
EOF

# Writes at Request level (the correlation reads node conditions and taints, pod statuses,
# bindings and Events from request bodies), the rest at Metadata; secret bodies never.
cat >"$work/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets", "configmaps"]
  - group: "coordination.k8s.io"
    resources: ["leases"]
- level: Request
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: Metadata
EOF

# --- start --------------------------------------------------------------------------------------
"$etcd_bin/etcd" --name e2e --data-dir "$work/etcd" --log-level warn --unsafe-no-fsync \
  --listen-client-urls "http://127.0.0.1:$p_etcd" --advertise-client-urls "http://127.0.0.1:$p_etcd" \
  --listen-peer-urls "http://127.0.0.1:$p_peer" --initial-advertise-peer-urls "http://127.0.0.1:$p_peer" \
  --initial-cluster "e2e=http://127.0.0.1:$p_peer" >"$work/logs/etcd.log" 2>&1 &
pids[etcd]=$!
wait_until 60 "etcd healthy" curl -sf "http://127.0.0.1:$p_etcd/health"
say "etcd ready on 127.0.0.1:$p_etcd"

# ktrail's command line, one argument a line: the driver restarts it from this after a kill.
printf '%s\n' "$ktrail" serve --listen "127.0.0.1:$p_ktrail" --db "$work/ktrail.db" \
  --tls-cert "$pki/ktrail.crt" --tls-key "$pki/ktrail.key" --token-file "$pki/ktrail.tokens" \
  --ready-file "$work/ktrail.ready" >"$work/ktrail.args"
mapfile -t ktrail_args <"$work/ktrail.args"
"${ktrail_args[@]}" >>"$work/ktrail.log" 2>&1 &
echo $! >"$work/ktrail.pid"
wait_until 30 "ktrail serving" test -s "$work/ktrail.ready"
say "ktrail serving on https://127.0.0.1:$p_ktrail"

"$k8s_bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$p_etcd" \
  --bind-address 127.0.0.1 --secure-port "$p_api" --advertise-address 127.0.0.1 \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode RBAC \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type none --profiling=false \
  --audit-policy-file "$work/audit-policy.yaml" \
  --audit-log-path "$work/audit.log" --audit-log-maxsize 4096 \
  --audit-webhook-config-file "$work/ktrail-webhook.kubeconfig" --audit-webhook-batch-max-wait 1s \
  >"$work/logs/kube-apiserver.log" 2>&1 &
pids[kube-apiserver]=$!
admin=(--cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
wait_until 240 "kube-apiserver ready" curl -sf "${admin[@]}" "https://127.0.0.1:$p_api/readyz"
say "kube-apiserver ready on https://127.0.0.1:$p_api"

"$k8s_bin/kube-controller-manager" --kubeconfig "$work/kube-controller-manager.kubeconfig" \
  --secure-port 0 --leader-elect=false --use-service-account-credentials=true \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --node-monitor-grace-period 20s --node-monitor-period 2s \
  >"$work/logs/kube-controller-manager.log" 2>&1 &
pids[kube-controller-manager]=$!
"$k8s_bin/kube-scheduler" --kubeconfig "$work/kube-scheduler.kubeconfig" --secure-port 0 --leader-elect=false \
  >"$work/logs/kube-scheduler.log" 2>&1 &
pids[kube-scheduler]=$!
# Controllers are up once the token controller has made a namespace's default ServiceAccount,
# the scheduler once it holds its watch (its first audit events).
sa_ready() { curl -sf "${admin[@]}" "https://127.0.0.1:$p_api/api/v1/namespaces/default/serviceaccounts/default"; }
wait_until 180 "kube-controller-manager working" sa_ready
wait_until 120 "kube-scheduler working" grep -q '"username":"system:kube-scheduler"' "$work/audit.log"
for name in "${!pids[@]}"; do alive "${pids[$name]}" || die "$name exited (see $work/logs/$name.log)"; done
say "control plane ready"

# ktrail's own deployment manifests (deploy/kubernetes) against this apiserver: a server-side
# dry run with strict field validation (scripts/deploy-check.sh).
kubeconfig admin
"$root/scripts/deploy-check.sh" --manifests-only --binary "$ktrail" --kubectl "$k8s_bin/kubectl" \
  --kubeconfig "$work/admin.kubeconfig" >"$work/logs/deploy-check.log" 2>&1 ||
  { cat "$work/logs/deploy-check.log" >&2; die "deploy manifests refused by kube-apiserver"; }
say "deploy manifests pass a server-side dry run"

# --- scenarios ----------------------------------------------------------------------------------
run_start=$SECONDS
run_rc=0
"$work/e2e" run --server "https://127.0.0.1:$p_api" --dir "$work" --out "$work/run.json" || run_rc=$?
say "scenarios took $((SECONDS - run_start)) s"

# Stop the control plane first, so the apiserver flushes its audit buffers to ktrail, then ktrail.
stop kube-scheduler "${pids[kube-scheduler]}"
stop kube-controller-manager "${pids[kube-controller-manager]}"
stop kube-apiserver "${pids[kube-apiserver]}"
stop etcd "${pids[etcd]}"
pids=()
stop ktrail "$(cat "$work/ktrail.pid")"
rm -f "$work/ktrail.pid"
say "stopped"
((run_rc == 0)) || die "scenarios failed (exit $run_rc)"

"$work/e2e" verify --ktrail "$ktrail" --db "$work/ktrail.db" --replay-db "$work/replay.db" \
  --audit-log "$work/audit.log" --apiserver-log "$work/logs/kube-apiserver.log" --run "$work/run.json" \
  --known-failures "$root/tests/e2e/k8s/known-failures.tsv" || die "checks failed"
say "passed in $((SECONDS - t0)) s"
