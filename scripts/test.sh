#!/usr/bin/env bash
# The test command (README, .ci/run): set up, build, then every test suite.
# Kernel tests load real eBPF and need root; as root they never skip.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh
# Kubernetes binaries of the test cluster (Go module proxy; cached, cold ~8 min).
if [ "$(id -u)" = 0 ]; then bash test/k8s/build.sh; fi
node scripts/gen-chart-readme.js --check
# The committed event readers must match the compiled BPF layouts.
node scripts/gen-event-readers.js --check
# Files are listed explicitly: node would otherwise also run every helper module under test/.
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
[ ${#files[@]} -gt 0 ] || { echo "test: no compiled test files under dist/test" >&2; exit 1; }
node --test --test-concurrency=1 "${files[@]}" "$@"
