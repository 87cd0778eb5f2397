# Shared by the scripts: where build caches live (outside the checkout, so a
# fresh clone reuses them) and the toolchain paths.
export LIGHTFOOT_CACHE=${LIGHTFOOT_CACHE:-/var/cache/lightfoot}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$LIGHTFOOT_CACHE/cargo-target}
export GOCACHE=${GOCACHE:-$LIGHTFOOT_CACHE/go-build}
export GOMODCACHE=${GOMODCACHE:-$LIGHTFOOT_CACHE/go-mod}
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
mkdir -p "$LIGHTFOOT_CACHE"
