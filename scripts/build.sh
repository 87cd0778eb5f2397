#!/usr/bin/env bash
# `npm run build`: BPF objects, generated event readers, the native addon,
# the built-in decoder components, TypeScript.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/env.sh"
cd "$root"
bash scripts/build-bpf.sh
node scripts/gen-event-readers.js
bash scripts/build-native.sh
bash scripts/build-decoders.sh
# Compiled output of deleted sources must not linger (the test runner globs dist/test).
[ -d dist ] && find dist \( -name '*.js' -o -name '*.js.map' \) -delete
# node_modules/.bin/tsc belongs to another package (typescript-compiler-api); use ours.
node node_modules/typescript/bin/tsc -p tsconfig.json
chmod +x dist/runtime/cli/main.js
