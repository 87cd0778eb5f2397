#!/usr/bin/env bash
# Builds native/ (Rust, napi-rs + vendored static libbpf) into native/lightfoot.node.
# Build caches live outside the checkout so every clone on this machine reuses them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# CARGO_TARGET_DIR from LIGHTFOOT_CACHE (default /var/cache/lightfoot), also when run alone.
. "$root/scripts/lib/env.sh"
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
mkdir -p "$CARGO_TARGET_DIR"

cargo build --release --locked --manifest-path "$root/native/Cargo.toml"

src="$CARGO_TARGET_DIR/release/liblightfoot_native.so"
dst="$root/native/lightfoot.node"
# Copy only when changed, via rename, so a running process never sees a half-written file.
if ! cmp -s "$src" "$dst"; then
  cp "$src" "$dst.tmp.$$"
  mv -f "$dst.tmp.$$" "$dst"
fi
