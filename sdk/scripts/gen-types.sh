#!/usr/bin/env bash
# gen-types.sh: regenerates sdk/generated/ from sdk/wit/decoder.wit with jco.
#   host/   `jco types`: what a host sees of a decoder-plugin component (TypeScript)
#   guest/  `jco guest-types`: what a JS guest implements (reference for SDK authors)
# Usage: gen-types.sh [OUT_DIR]   (default sdk/generated; test/sdk/types.test.ts
# generates into a temp dir and diffs, so stale files fail the tests).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-$root/sdk/generated}
jco="$root/node_modules/.bin/jco"
rm -rf "$out/host" "$out/guest"
mkdir -p "$out"
"$jco" types "$root/sdk/wit" --world-name decoder-plugin -o "$out/host" --quiet >/dev/null
"$jco" guest-types "$root/sdk/wit" --world-name decoder-plugin -o "$out/guest" --quiet >/dev/null
