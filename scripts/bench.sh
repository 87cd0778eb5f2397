#!/usr/bin/env bash
# `npm run bench`: build, then run every benchmark and record docs/benchmarks.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh
node dist/bench/run.js "$@"
