#!/usr/bin/env bash
# Builds the ktrail runtime image without a container engine and without pulling a base image.
#
# The image is assembled from Debian's own packages: the packages that hold the shared libraries
# the ktrail binary links (found with ldd and dpkg -S) are fetched with `apt-get download` and
# unpacked into a root filesystem, with the binary, a non-root user (65532) and an empty
# /var/lib/ktrail for the store volume. The result is one tarball that is both an OCI image layout
# (index.json) and a `docker save` archive (manifest.json), so `docker load`, podman, skopeo and
# containerd all take it.
#
# Usage: deploy/build-image.sh [--binary PATH] [--out FILE] [--tag NAME:TAG] [--rootfs DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary=""
out="$root/build/ktrail-image.tar"
tag="ktrail:dev"
rootfs=""
while (($#)); do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    *) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$binary" ]]; then
  binary="$("$root/scripts/build.sh" Release | tail -n 1)/app/ktrail"
fi
[[ -x "$binary" ]] || { echo "build-image.sh: no executable at $binary" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[[ -n "$rootfs" ]] || rootfs="$work/rootfs"
rm -rf "$rootfs"; mkdir -p "$rootfs"

# 1. The Debian packages that provide every library the binary loads, and the C library itself.
mapfile -t libs < <(ldd "$binary" | awk '/=>/ {print $3} /ld-linux/ && !/=>/ {print $1}')
declare -A pkgs=([libc6]=1 [ca-certificates]=1 [netbase]=1 [tzdata]=1)
for lib in "${libs[@]}"; do
  real=$(readlink -f "$lib")
  owner=$(dpkg -S "$real" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$real" 2>/dev/null || true)
  [[ -n "$owner" ]] || { echo "build-image.sh: no Debian package owns $lib" >&2; exit 1; }
  pkgs[${owner%%:*}]=1
done
debs="${KTRAIL_CACHE:-$HOME/.cache/ktrail}/debs"
mkdir -p "$debs"
# Only packages not downloaded before are fetched (the cache holds the versions last installed).
need=()
for p in "${!pkgs[@]}"; do
  version=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null | sed 's/^[0-9]*://')
  compgen -G "$debs/${p}_${version}_*.deb" >/dev/null || need+=("$p")
done
if ((${#need[@]})); then
  (cd "$debs" && apt-get -o APT::Sandbox::User=root download -qq "${need[@]}" >/dev/null)
fi
for p in "${!pkgs[@]}"; do
  version=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null | sed 's/^[0-9]*://')
  deb=$(compgen -G "$debs/${p}_${version}_*.deb" | head -n 1 || true)
  [[ -n "$deb" ]] || deb=$(ls -t "$debs/${p}"_*.deb | head -n 1)
  dpkg-deb -x "$deb" "$rootfs"
done
# Package documentation is kept for the copyright files only.
find "$rootfs/usr/share/doc" -type f ! -name copyright -delete 2>/dev/null || true
rm -rf "$rootfs/usr/share/man" "$rootfs/usr/share/info" "$rootfs/usr/share/lintian"
# ca-certificates ships the certificates; the bundle is normally made by its postinst.
mkdir -p "$rootfs/etc/ssl/certs"
find "$rootfs/usr/share/ca-certificates" -name '*.crt' -exec cat {} + > "$rootfs/etc/ssl/certs/ca-certificates.crt"

# 2. ktrail, its user and its data directory.
install -D -m 0755 "$binary" "$rootfs/usr/bin/ktrail"
strip --strip-unneeded "$rootfs/usr/bin/ktrail" 2>/dev/null || true
mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/var/lib/ktrail" "$rootfs/etc/ktrail"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nktrail:x:65532:65532:ktrail:/var/lib/ktrail:/usr/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nktrail:x:65532:\n' > "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
chown 65532:65532 "$rootfs/var/lib/ktrail"
# Debian's merged /usr: the packages install under /usr/lib and expect /lib, /lib64, /bin to point there.
for d in bin lib lib64 sbin; do
  if [[ -d "$rootfs/usr/$d" && ! -e "$rootfs/$d" ]]; then ln -s "usr/$d" "$rootfs/$d"; fi
done

# 3. One layer, deterministic, and the image metadata.
layer="$work/layer.tar"
tar --sort=name --mtime='@0' --numeric-owner -C "$rootfs" -cf "$layer" .
diff_id=$(sha256sum "$layer" | cut -d' ' -f1)
gzip -n -9 -c "$layer" > "$layer.gz"
layer_digest=$(sha256sum "$layer.gz" | cut -d' ' -f1)
layer_size=$(stat -c %s "$layer.gz")
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat > "$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"$created",
 "config":{"User":"65532:65532","WorkingDir":"/var/lib/ktrail",
  "Entrypoint":["/usr/bin/ktrail","serve"],
  "Cmd":["--listen","0.0.0.0:8443","--db","/var/lib/ktrail/ktrail.db"],
  "ExposedPorts":{"8443/tcp":{}},"Volumes":{"/var/lib/ktrail":{}},
  "Env":["PATH=/usr/bin:/bin","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
  "Labels":{"org.opencontainers.image.title":"ktrail","org.opencontainers.image.description":"Kubernetes audit webhook backend"}},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created":"$created","created_by":"deploy/build-image.sh"}]}
JSON
config_digest=$(sha256sum "$work/config.json" | cut -d' ' -f1)
config_size=$(stat -c %s "$work/config.json")
cat > "$work/manifest.oci.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config_digest","size":$config_size},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer_digest","size":$layer_size}]}
JSON
manifest_digest=$(sha256sum "$work/manifest.oci.json" | cut -d' ' -f1)
manifest_size=$(stat -c %s "$work/manifest.oci.json")

img="$work/image"
mkdir -p "$img/blobs/sha256"
cp "$layer.gz" "$img/blobs/sha256/$layer_digest"
cp "$work/config.json" "$img/blobs/sha256/$config_digest"
cp "$work/manifest.oci.json" "$img/blobs/sha256/$manifest_digest"
echo '{"imageLayoutVersion":"1.0.0"}' > "$img/oci-layout"
cat > "$img/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
 "manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest_digest","size":$manifest_size,
  "annotations":{"io.containerd.image.name":"$tag","org.opencontainers.image.ref.name":"${tag##*:}"}}]}
JSON
cat > "$img/manifest.json" <<JSON
[{"Config":"blobs/sha256/$config_digest","RepoTags":["$tag"],"Layers":["blobs/sha256/$layer_digest"]}]
JSON
mkdir -p "$(dirname "$out")"
tar --sort=name --mtime='@0' --numeric-owner -C "$img" -cf "$out" .
echo "image $tag: $(stat -c %s "$out") bytes in $out (layer $(stat -c %s "$layer") bytes unpacked)" >&2
echo "$out"
