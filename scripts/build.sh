#!/usr/bin/env bash
# `npm run build`: BPF objects, generated event readers, the native addon, TypeScript.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/env.sh"
cd "$root"
bash scripts/build-bpf.sh
node scripts/gen-event-readers.js
bash scripts/build-native.sh
# node_modules/.bin/tsc belongs to another package (typescript-compiler-api); use ours.
node node_modules/typescript/bin/tsc -p tsconfig.json
chmod +x dist/runtime/cli/main.js
