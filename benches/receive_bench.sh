#!/usr/bin/env bash
# Throughput of `wabench receive` writing every status to its file (a 200 is answered only once the
# status is written): wrk posts the signed Cloud status webhook of benches/webhook_bench.sh for 5 s
# over 64 connections to a receiver on one worker thread; prints wrk's rate, the statuses recorded
# (checked against the 200s) and the receiver's CPU per webhook.
#
# Usage: benches/receive_bench.sh [WABENCH_BINARY]   (default: target/release/wabench, built)
# Environment: PORT (8091), CARGO_TARGET_DIR (target).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8091}
BIN=${1:-}
if [ -z "$BIN" ]; then
    cargo build --release --bin wabench
    BIN="${CARGO_TARGET_DIR:-target}/release/wabench"
fi
export WABENCH_APP_SECRET=bench-app-secret-0123456789abcdef
W=$(mktemp -d)
P=
cleanup() {
    if [ -n "$P" ] && kill -0 "$P" 2>/dev/null; then kill -TERM "$P"; wait "$P" || true; fi
    rm -rf "$W"
}
trap cleanup EXIT
printf '%s' '{"object":"whatsapp_business_account","entry":[{"id":"419561257915477","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgLMTU1NTAwMDEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","status":"delivered","timestamp":"1750263773","recipient_id":"15550001234","conversation":{"id":"0a1b2c3d4e5f60718293a4b5c6d7e8f9","origin":{"type":"marketing"}},"pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}}]}}]}]}' >"$W/body.json"
SIG=$(openssl dgst -sha256 -hmac "$WABENCH_APP_SECRET" -r "$W/body.json" | cut -d' ' -f1)
{
    echo 'wrk.method = "POST"'
    echo "wrk.headers[\"X-Hub-Signature-256\"] = \"sha256=$SIG\""
    printf 'wrk.body = [==[%s]==]\n' "$(cat "$W/body.json")"
} >"$W/post.lua"
"$BIN" receive --listen "127.0.0.1:$PORT" --out "$W/recv" --threads 1 >/dev/null 2>&1 &
P=$!
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.05
done
wrk -t1 -c64 -d5s -s "$W/post.lua" "http://127.0.0.1:$PORT/webhook" >"$W/wrk.txt"
. benches/checks.sh
check_wrk "$W/wrk.txt"
TICKS=$(awk '{print $14 + $15}' "/proc/$P/stat")
kill -TERM "$P"
wait "$P" || true
P=
N=$(grep -c '^wamid' "$W"/recv/statuses-*.csv)
echo "$(grep Requests/sec "$W/wrk.txt" | tr -s ' '), latency mean $(grep -E '^ +Latency' "$W/wrk.txt" | awk '{print $2}'), statuses recorded $N, receiver CPU $(python3 -c "print(round($TICKS / $(getconf CLK_TCK) * 1e6 / $N, 1))") us per webhook"
