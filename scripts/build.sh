#!/usr/bin/env bash
# `npm run build`: BPF objects, generated event readers, the native addon, TypeScript.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/env.sh"
cd "$root"
bash scripts/build-bpf.sh
node scripts/gen-event-readers.js
bash scripts/build-native.sh
npx tsc -p tsconfig.json
chmod +x dist/runtime/cli/main.js
