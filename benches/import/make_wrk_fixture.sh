#!/usr/bin/env bash
# Make tests/fixtures/import/real/wrk.txt with the real wrk (`--latency`, a closed loop measuring from
# the actual send) against wabench's Cloud API simulator on a loopback port: 1 thread, 4 connections,
# 3 s, the Cloud text send of benches/cloud_send.lua. Its one recipient soon hits the pair rate limit,
# so the printout also has "Non-2xx or 3xx responses". Needs wrk (Debian package `wrk`).
set -euo pipefail
cd "$(dirname "$0")/../.."
WABENCH=${WABENCH:-${CARGO_TARGET_DIR:-target}/debug/wabench}
PORT=${PORT:-18092}
OUT=tests/fixtures/import/real
mkdir -p "$OUT"
"$WABENCH" simulate --flavor cloud --listen "127.0.0.1:$PORT" > /dev/null &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT
sleep 1
timeout 30 wrk -t1 -c4 -d3s --latency -s benches/cloud_send.lua \
    "http://127.0.0.1:$PORT/v23.0/106540352242922/messages" > "$OUT/wrk.txt"
cat "$OUT/wrk.txt"
