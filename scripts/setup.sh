#!/usr/bin/env bash
# Installs what lightfoot needs to build and test, idempotently, from Debian
# packages and npm only (Rust crates are fetched by cargo during the build).
# Run as root on Debian 12. Fast when everything is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/env.sh"

debs=(clang-19 llvm-19 lld-19 libbpf-dev bpftool pkg-config make gcc
      autoconf automake autopoint flex bison gawk m4   # vendored libelf in native/'s libbpf-sys
      wasi-libc libclang-rt-19-dev-wasm32                 # C decoders -> wasm32
      cmake g++ libclang1-19                              # boring-sys (BoringSSL, bindgen) of test/workloads/tls-rs
      nftables iproute2 curl ca-certificates
      nghttp2-client nghttp2-server                     # h2c peers of the http2 decoder tests
      containerd runc containernetworking-plugins openssl)  # test cluster (test/k8s/); openssl: test certificates
command -v node >/dev/null || debs+=(nodejs npm)
command -v cargo >/dev/null || debs+=(cargo rustc)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "setup: installing ${missing[*]} needs root (run with sudo)" >&2; exit 1; }
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "setup: Node.js >= 20 is required (found $(node --version))" >&2; exit 1; }

# npm ci only when the lock file changed since the last install.
stamp="$root/node_modules/.lightfoot-lock.sha256"
want=$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

# wit-bindgen generates the C bindings of the decoder WIT; from the crate registry.
tools=${LIGHTFOOT_TOOLS:-$LIGHTFOOT_CACHE/tools}
if [ ! -x "$tools/bin/wit-bindgen" ] || ! "$tools/bin/wit-bindgen" --version | grep -q " 0.63.0"; then
  echo "setup: building wit-bindgen-cli 0.63.0 (once)"
  CARGO_TARGET_DIR=$LIGHTFOOT_CACHE/cargo-tools-target cargo install --quiet --root "$tools" --locked wit-bindgen-cli@0.63.0
fi
