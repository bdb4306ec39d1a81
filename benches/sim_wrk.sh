#!/usr/bin/env bash
# Throughput of the embedded simulator alone, as users run it: `wabench simulate --benchmark` (release
# build; zero latency, no throughput or pair limits) on one worker thread, driven by wrk with a Cloud
# API text send. Prints the requests per second. With REFERENCE=1, the same wrk then drives one nginx
# worker answering the same POST with a fixed JSON from memory (`return 200`: the leanest server on
# this machine's loopback) and the ratio is printed: what the simulator's own work costs.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-0}"  # 0: an ephemeral port chosen by the server
DURATION="${DURATION:-5s}"
CONNS="${CONNS:-64}"
cargo build --release
if ! command -v wrk >/dev/null 2>&1; then
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
BIN="${CARGO_TARGET_DIR:-target}/release/wabench"
LOG="$(mktemp)"
# wrk occupies one of the two cores; one worker thread for the simulator avoids the two fighting over
# the same core (override with SIM_THREADS).
"$BIN" simulate --benchmark --threads "${SIM_THREADS:-1}" --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill -INT "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; cat "$LOG"; rm -f "$LOG"' EXIT
ADDR=""
for _ in $(seq 1 200); do  # the server prints its address once it listens (at most ~10 s)
    ADDR="$(sed -n 's#.*listening on http://\([0-9.:]*\).*#\1#p' "$LOG")"
    [ -n "$ADDR" ] && break
    kill -0 "$SERVER" 2>/dev/null || { echo "simulator exited:"; cat "$LOG"; exit 1; }
    sleep 0.05
done
[ -n "$ADDR" ] || { echo "simulator did not start"; exit 1; }
OUT="$(wrk -t1 -c"$CONNS" -d"$DURATION" -s benches/cloud_send.lua "http://$ADDR/v23.0/1234567890/messages")"
echo "$OUT"
. benches/checks.sh
printf '%s\n' "$OUT" > "${TMPDIR:-/tmp}/wabench-sim-wrk.txt"
check_wrk "${TMPDIR:-/tmp}/wabench-sim-wrk.txt"
echo "command: wrk -t1 -c$CONNS -d$DURATION -s benches/cloud_send.lua http://$ADDR/v23.0/1234567890/messages"
echo "req/s: $(echo "$OUT" | awk '/Requests\/sec/ {print $2}')"
if [ "${REFERENCE:-0}" = 1 ]; then
    sim_rps="$(echo "$OUT" | awk '/Requests\/sec/ {print $2}')"
    kill -INT "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true
    work="$(mktemp -d)" PORT="${REF_PORT:-18486}" NGINX_RETURN=1
    trap 'kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true; rm -f "$LOG"' EXIT
    . benches/nginx.sh
    REF="$(wrk -t1 -c"$CONNS" -d"$DURATION" -s benches/cloud_send.lua "http://127.0.0.1:$PORT/v23.0/1234567890/messages")"
    printf '%s\n' "$REF" > "$work/ref.txt"
    check_wrk "$work/ref.txt"
    ref_rps="$(echo "$REF" | awk '/Requests\/sec/ {print $2}')"
    echo "nginx return 200, same wrk: $ref_rps req/s; simulator / nginx: $(python3 -c "print(f'{$sim_rps / $ref_rps:.2f}')")"
fi
