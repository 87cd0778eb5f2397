#!/usr/bin/env bash
# Quick start, step 1: install what is needed, build, and watch the bundled demo
# workload with lightfoot on this host. Prints connection events and, every
# 10 s, the TCP metrics. Ctrl-C stops both. LIGHTFOOT_DEMO_SECONDS=N stops after N s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh

addr=${LIGHTFOOT_METRICS_ADDR:-127.0.0.1:9464}
node demo/tcp-demo.js & demo=$!
node dist/runtime/cli/main.js run --pid "$demo" --metrics-addr "$addr" --log-format pretty --flush-interval-ms 2000 & lf=$!
cleanup() { kill "$lf" "$demo" 2>/dev/null || true; wait "$lf" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

deadline=$(( $(date +%s) + ${LIGHTFOOT_DEMO_SECONDS:-31536000} ))
while kill -0 "$lf" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 10
  echo "---- metrics at http://$addr/metrics (lightfoot_tcp_*) ----"
  curl -fsS "http://$addr/metrics" | grep -E '^lightfoot_tcp_(connections|bytes|resets|retransmits)' | head -20 || true
done
