#!/usr/bin/env bash
# Throughput of the status-webhook receiver with signature verification, driven by wrk from a
# separate process: every request is a signed Cloud status webhook (the same body each time;
# the tracker sees its id as unknown and the repeats as duplicates).
#
# Usage: benches/webhook_bench.sh
# Environment: PORT (8089), THREADS receiver worker threads (1), CONNECTIONS (64),
#              DURATION (5s), CARGO_TARGET_DIR (target), BIN (a built webhook_receiver example, to
#              compare builds; built from this tree when unset).
set -euo pipefail

cd "$(dirname "$0")/.."
PORT=${PORT:-8089}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-5s}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
export WABENCH_APP_SECRET=${WABENCH_APP_SECRET:-bench-app-secret-0123456789abcdef}

if [ -z "${BIN:-}" ]; then
    cargo build --release --example webhook_receiver
    BIN="$TARGET_DIR/release/examples/webhook_receiver"
fi

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y wrk; else sudo apt-get install -y wrk; fi
fi

WORK=$(mktemp -d)
RECEIVER_PID=
cleanup() {
    if [ -n "$RECEIVER_PID" ] && kill -0 "$RECEIVER_PID" 2>/dev/null; then
        kill -TERM "$RECEIVER_PID" 2>/dev/null || true
        wait "$RECEIVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# A typical Cloud `delivered` webhook (one status, conversation and pricing), without a
# trailing newline: the signature covers exactly these bytes.
printf '%s' '{"object":"whatsapp_business_account","entry":[{"id":"419561257915477","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgLMTU1NTAwMDEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","status":"delivered","timestamp":"1750263773","recipient_id":"15550001234","conversation":{"id":"0a1b2c3d4e5f60718293a4b5c6d7e8f9","origin":{"type":"marketing"}},"pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}}]}}]}]}' >"$WORK/body.json"

SIG=$(openssl dgst -sha256 -hmac "$WABENCH_APP_SECRET" -r "$WORK/body.json" | cut -d' ' -f1)
{
    echo 'wrk.method = "POST"'
    echo 'wrk.headers["Content-Type"] = "application/json"'
    echo "wrk.headers[\"X-Hub-Signature-256\"] = \"sha256=$SIG\""
    printf 'wrk.body = [==[%s]==]\n' "$(cat "$WORK/body.json")"
} >"$WORK/post.lua"

"$BIN" --port "$PORT" --threads "$THREADS" >"$WORK/receiver.json" &
RECEIVER_PID=$!

# Wait (bounded) until the port accepts connections.
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.05
done

URL="http://127.0.0.1:$PORT/webhook"
echo "wrk -t1 -c$CONNECTIONS -d$DURATION -s post.lua $URL  (receiver: $THREADS thread(s))"
wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/post.lua" "$URL" | tee "$WORK/wrk.txt"
. benches/checks.sh
check_wrk "$WORK/wrk.txt"

# CPU time the receiver used (user + system clock ticks), for CPU cost per webhook.
CPU_TICKS=$(awk '{print $14 + $15}' "/proc/$RECEIVER_PID/stat")
kill -TERM "$RECEIVER_PID"
wait "$RECEIVER_PID"
RECEIVER_PID=

python3 - "$WORK/receiver.json" "$CPU_TICKS" "$(getconf CLK_TCK)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rc, d = r["receiver"], r["delivery"]
cpu_s = int(sys.argv[2]) / int(sys.argv[3])
if rc["received"]:
    print(f"receiver CPU: {cpu_s:.2f} s, {cpu_s * 1e6 / rc['received']:.1f} us per webhook")
print(f"receiver: received={rc['received']} bad_signature={rc['bad_signature']} "
      f"missing_signature={rc['missing_signature']} malformed={rc['malformed']} "
      f"backlog_waits={rc['backlog_waits']} statuses={rc['statuses']}")
print(f"tracker: delivered statuses={d['statuses']['delivered']} duplicates={d['duplicates']} "
      f"unknown_ids={d['unknown_ids']}")
PY
RPS=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
echo "RESULT requests/s: $RPS"
