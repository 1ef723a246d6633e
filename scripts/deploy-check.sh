#!/usr/bin/env bash
# Checks what deploy/ ships, with real tools:
#   1. the runtime image: built from Debian's packages (deploy/build-image.sh), under 150 MB, and
#      its root filesystem starts `ktrail serve` as the non-root user with only a data volume and
#      the credentials of a Secret (run with chroot; no container engine is needed);
#   2. with a Docker engine (docker info answers, or --docker: an engine of its own is started for
#      the run, installing Debian's docker.io if needed, and stopped afterwards): `docker load` of
#      that image, and a `docker build` of deploy/Dockerfile (on debian:12-slim, or a base made with
#      debootstrap from this machine's Debian mirror where no image can be pulled) whose image runs;
#   3. the Kubernetes manifests: rendered with kubectl kustomize, decoded strictly against
#      k8s.io/api's types (tests/deploy/schemacheck), and, given --kubeconfig of a real
#      kube-apiserver, applied with a server-side dry-run and strict field validation;
#   4. the systemd unit: systemd-analyze verify.
# Usage: scripts/deploy-check.sh --binary PATH --kubectl PATH [--kubeconfig FILE] [--manifests-only]
#                                [--docker]
# --docker is not part of scripts/test.sh: the Dockerfile build compiles ktrail from scratch inside
# the container (10-15 minutes on 2 cores), which CI's budget does not hold.
# (scripts/k8s-e2e.sh runs the manifest checks with --kubeconfig while its control plane is up.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary="" kubectl="" kubeconfig="" manifests_only=0 own_docker=0
while (($#)); do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --kubectl) kubectl=$2; shift 2 ;;
    --kubeconfig) kubeconfig=$2; shift 2 ;;
    --manifests-only) manifests_only=1; shift ;;
    --docker) own_docker=1; shift ;;
    *) echo "deploy-check.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$binary" ]] || { echo "deploy-check.sh: --binary is required" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # An engine started here can leave its network namespace mounted in its exec root.
  if [[ -d "$work/docker" ]]; then
    awk -v w="$work/docker" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "== deploy-check: $*"; }

if ((manifests_only == 0)); then
# 1. The image.
step "runtime image"
image=$("$root/deploy/build-image.sh" --binary "$binary" --out "$work/ktrail-image.tar" --rootfs "$work/rootfs" --tag ktrail:check)
size=$(stat -c %s "$image")
unpacked=$(du -sb "$work/rootfs" | cut -f1)
echo "image tarball $size bytes, root filesystem $unpacked bytes"
((unpacked < 150 * 1024 * 1024)) || { echo "FAIL: the image is $unpacked bytes unpacked (limit 150 MB)" >&2; exit 1; }
# Every blob named by the layout is present and has its digest.
(cd "$work" && mkdir layout && tar -xf "$image" -C layout && cd layout &&
  for b in blobs/sha256/*; do [[ "$(sha256sum "$b" | cut -d' ' -f1)" == "$(basename "$b")" ]] || { echo "FAIL: digest of $b" >&2; exit 1; }; done &&
  python3 - <<'PY'
import json, os, sys
index = json.load(open("index.json"))
for m in index["manifests"]:
    manifest = json.load(open("blobs/sha256/" + m["digest"].split(":")[1]))
    for blob in [manifest["config"]] + manifest["layers"]:
        path = "blobs/sha256/" + blob["digest"].split(":")[1]
        if os.path.getsize(path) != blob["size"]:
            sys.exit("FAIL: size of " + path)
    config = json.load(open("blobs/sha256/" + manifest["config"]["digest"].split(":")[1]))["config"]
    if config["User"].split(":")[0] in ("", "0", "root"):
        sys.exit("FAIL: the image runs as root")
    if config["Entrypoint"] != ["/usr/bin/ktrail", "serve"]:
        sys.exit("FAIL: entrypoint " + str(config["Entrypoint"]))
print("OCI layout and docker manifest consistent")
PY
)
# Start it as the image would: user 65532, read-only root, a volume at /var/lib/ktrail and a
# Secret mounted at /etc/ktrail/credentials.
mkdir -p "$work/volume" "$work/secret"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=ktrail -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/secret/tls.key" -out "$work/secret/tls.crt" 2>/dev/null
token=$(openssl rand -hex 24)
echo "$token" > "$work/secret/tokens"
chown -R 65532:65532 "$work/volume"
chmod 0444 "$work/secret/"*
mount_done=()
for d in var/lib/ktrail etc/ktrail/credentials tmp dev; do mkdir -p "$work/rootfs/$d"; done
# The root filesystem read-only, as readOnlyRootFilesystem makes it; the volume, the Secret and
# an emptyDir for /tmp on top.
mount --bind "$work/rootfs" "$work/rootfs"; mount_done+=("$work/rootfs")
mount -o remount,bind,ro "$work/rootfs"
mount --bind "$work/volume" "$work/rootfs/var/lib/ktrail"; mount_done+=("$work/rootfs/var/lib/ktrail")
mount --bind -o ro "$work/secret" "$work/rootfs/etc/ktrail/credentials"; mount_done+=("$work/rootfs/etc/ktrail/credentials")
mount -t tmpfs -o size=64m,mode=1777 tmpfs "$work/rootfs/tmp"; mount_done+=("$work/rootfs/tmp")
unmount() { for ((i=${#mount_done[@]}-1; i>=0; i--)); do umount "${mount_done[$i]}" 2>/dev/null || true; done; }
trap 'unmount; cleanup' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chroot --userspec=65532:65532 "$work/rootfs" /usr/bin/ktrail serve --listen "127.0.0.1:$port" \
  --db /var/lib/ktrail/ktrail.db --tls-cert /etc/ktrail/credentials/tls.crt \
  --tls-key /etc/ktrail/credentials/tls.key --token-file /etc/ktrail/credentials/tokens \
  > "$work/serve.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 30))
until curl -fsS --cacert "$work/secret/tls.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { cat "$work/serve.log" >&2; echo "FAIL: the image's ktrail did not become ready" >&2; exit 1; }
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/serve.log" >&2; echo "FAIL: the image's ktrail exited" >&2; exit 1; }
  sleep 0.2
done
body='{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"level":"Metadata","auditID":"6f1c1a56-0d6c-4b77-9a53-3d7a1c1e2f01","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"list","user":{"username":"check"},"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z","stageTimestamp":"2026-01-01T00:00:00.000100Z"}]}'
reply=$(curl -fsS --cacert "$work/secret/tls.crt" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary "$body" "https://127.0.0.1:$port/audit")
echo "POST /audit: $reply"
[[ "$reply" == *'"stored":1'* ]] || { echo "FAIL: the image's ktrail did not store the event" >&2; exit 1; }
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$work/secret/tls.crt" -H 'Content-Type: application/json' \
  --data-binary "$body" "https://127.0.0.1:$port/audit")
[[ "$code" == 401 ]] || { echo "FAIL: a request without the token got $code" >&2; exit 1; }
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" || { echo "FAIL: ktrail did not exit 0 on SIGTERM" >&2; exit 1; }
[[ "$(stat -c %u "$work/volume/ktrail.db")" == 65532 ]] || { echo "FAIL: the store is not owned by the image's user" >&2; exit 1; }
echo "the image's ktrail served HTTPS with a token from the Secret as uid 65532 and stored into the volume"

# 2. With a Docker engine only.
if ((own_docker)) && ! docker info >/dev/null 2>&1; then
  step "starting a Docker engine for this run"
  command -v dockerd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  mkdir -p "$work/docker"
  # No bridge and no iptables rules: nothing of the host's network setup is changed.
  dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" \
    -H "unix://$work/docker/docker.sock" --pidfile "$work/docker/pid" --iptables=false \
    --bridge=none >"$work/docker/log" 2>&1 &
  pids+=($!)
  export DOCKER_HOST="unix://$work/docker/docker.sock"
  deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { tail -n 20 "$work/docker/log" >&2; echo "FAIL: dockerd did not start" >&2; exit 1; }
    sleep 0.5
  done
fi
if docker info >/dev/null 2>&1; then
  step "docker load and docker build"
  docker load -i "$image"
  base=debian:12-slim
  if ! docker image inspect "$base" >/dev/null 2>&1 && ! docker pull -q "$base" >/dev/null 2>&1; then
    # No registry: a Debian 12 base from Debian's packages, from the mirror this machine's apt
    # uses, with this machine's apt sources and settings so that the build stage reaches it too.
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [[ -n "$mirror" ]] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    debootstrap --variant=minbase bookworm "$work/bookworm" ${mirror:+"$mirror"} >/dev/null
    rm -f "$work/bookworm/etc/apt/sources.list"
    cp -a /etc/apt/sources.list.d/. "$work/bookworm/etc/apt/sources.list.d/"
    [[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$work/bookworm/etc/apt/"
    cp -a /etc/apt/apt.conf.d/. "$work/bookworm/etc/apt/apt.conf.d/"
    tar -C "$work/bookworm" -c . | docker import - ktrail-debian-base:12
    base=ktrail-debian-base:12
  fi
  # The host's network: the build stage fetches Debian packages, and an engine started without a
  # bridge (as in a sandbox) gives containers no other network.
  docker build -q --network host -f "$root/deploy/Dockerfile" --build-arg BUILD_BASE="$base" \
    -t ktrail:built "$root"
  docker run --rm --network none ktrail:built --help >/dev/null
  echo "docker build of deploy/Dockerfile: the built image runs ktrail"
  docker image rm -f ktrail:built ktrail:check >/dev/null
else
  echo "== deploy-check: no Docker engine here (docker info fails): image load and Dockerfile build not run"
fi

fi

# 3. Manifests.
if [[ -n "$kubectl" ]]; then
  schemacheck="$work/schemacheck"
  (cd "$root/tests/deploy/schemacheck" && go build -o "$schemacheck" .)
  for variant in base kafka; do
    step "manifests: $variant"
    "$kubectl" kustomize "$root/deploy/kubernetes/$variant" > "$work/$variant.yaml"
    "$schemacheck" < "$work/$variant.yaml"
    if [[ -n "$kubeconfig" ]]; then
      # Namespaced objects are checked in a namespace that exists; everything else is a dry run.
      "$kubectl" --kubeconfig "$kubeconfig" get namespace ktrail >/dev/null 2>&1 ||
        "$kubectl" --kubeconfig "$kubeconfig" create namespace ktrail >/dev/null
      "$kubectl" --kubeconfig "$kubeconfig" apply --dry-run=server --validate=strict -f "$work/$variant.yaml"
    fi
  done
  [[ -n "$kubeconfig" ]] || echo "== deploy-check: no --kubeconfig: server-side dry-run not run"
else
  echo "== deploy-check: no --kubectl: manifests not checked" >&2; exit 1
fi

((manifests_only == 0)) || { echo "deploy-check: manifest checks passed"; exit 0; }

# 4. systemd.
step "systemd unit"
unit="$work/ktrail.service"
sed "s#/usr/local/bin/ktrail #$binary #" "$root/deploy/systemd/ktrail.service" > "$unit"
SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$unit"
echo "deploy-check: all checks passed"
