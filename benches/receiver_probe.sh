#!/usr/bin/env bash
# Memory of `wabench receive` under hostile connections, and whether valid webhooks are recorded
# meanwhile (loopback only, bounded in time).
#
# CONNECTIONS clients each start a POST declaring a 1 MiB body with a junk (well-formed) signature,
# send 1 MiB - 1 of it and stall for HOLD seconds; while they hold, VALID signed status webhooks are
# posted (8 at a time) and their answers counted. The receiver's resident memory (VmRSS) is sampled
# every 0.2 s: its peak while the hostile connections are open, and 3 s and 10 s after they closed. Then the
# receiver is stopped and every webhook answered 200 is looked up in its statuses file. The attack
# comes in WAVES waves, one after the other, against the same receiver.
#
# Usage: benches/receiver_probe.sh
# Environment: BIN (target/release/wabench, built when missing), PORT (8099), CONNECTIONS (600),
#              HOLD (15 s, under the receiver's 30 s read timeout), VALID (200 per wave), WAVES (2),
#              THREADS (2),
#              CARGO_TARGET_DIR (target).
set -euo pipefail

cd "$(dirname "$0")/.."
PORT=${PORT:-8099}
CONNECTIONS=${CONNECTIONS:-600}
HOLD=${HOLD:-15}
VALID=${VALID:-200}
WAVES=${WAVES:-2}
THREADS=${THREADS:-2}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${BIN:-}" ]; then
    cargo build --release --bin wabench
    BIN="$TARGET_DIR/release/wabench"
fi
export WABENCH_APP_SECRET=${WABENCH_APP_SECRET:-probe-app-secret-0123456789abcdef}
# The hostile clients and the receiver each need a descriptor per connection.
ulimit -n "$((CONNECTIONS * 2 + 256))" 2>/dev/null || true

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

"$BIN" receive --listen "127.0.0.1:$PORT" --out "$WORK/recv" --threads "$THREADS" \
    >"$WORK/receiver.out" 2>"$WORK/receiver.err" &
RECEIVER_PID=$!
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.05
done

timeout $(((HOLD + 130) * WAVES)) python3 - "$PORT" "$RECEIVER_PID" "$CONNECTIONS" "$HOLD" "$VALID" "$WORK/answered.txt" "$WAVES" <<'PY'
import asyncio, hashlib, hmac, json, os, sys, time

port, pid, conns, hold, valid, answered_path, waves = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
secret = os.environ["WABENCH_APP_SECRET"].encode()
MIB = 1024 * 1024

def rss_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

samples = []
async def sample(stop):
    while not stop.is_set():
        samples.append((time.monotonic(), rss_mib()))
        await asyncio.sleep(0.2)

async def hostile(held, opened):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    except Exception:
        return
    opened.append(1)
    head = (f"POST /webhook HTTP/1.1\r\nhost: x\r\nx-hub-signature-256: sha256={'0' * 64}\r\n"
            f"content-type: application/json\r\ncontent-length: {MIB}\r\n\r\n").encode()
    w.write(head + b" " * (MIB - 1))
    try:
        # The receiver may stop reading (its budget is taken): the rest waits in kernel buffers.
        await asyncio.wait_for(w.drain(), hold)
    except Exception:
        pass
    await held.wait()
    w.close()

async def post(i, answered):
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "2"},
        "statuses": [{"id": f"wamid.probe{i}", "status": "delivered", "timestamp": "1750263773", "recipient_id": "15550001234"}]}}]}]}).encode()
    sig = hmac.new(secret, body, hashlib.sha256).hexdigest()
    req = (f"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-hub-signature-256: sha256={sig}\r\n"
           f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body
    started = time.monotonic()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        w.write(req)
        line = await asyncio.wait_for(r.readline(), 10)
        w.close()
        code = int(line.split()[1])
    except Exception:
        code = 0
    answered.append((f"wamid.probe{i}", code, time.monotonic() - started))

async def wave(n, ok_ids):
    samples.clear()
    base = rss_mib()
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(stop))
    held, opened = asyncio.Event(), []
    t0 = time.monotonic()
    tasks = [asyncio.create_task(hostile(held, opened)) for _ in range(conns)]
    await asyncio.sleep(2)  # let the hostile bodies arrive
    answered, sem = [], asyncio.Semaphore(8)
    async def one(i):
        async with sem:
            await post(i, answered)
    await asyncio.gather(*(one(n * valid + i) for i in range(valid)))
    await asyncio.sleep(max(0.0, hold - (time.monotonic() - t0)))
    peak_held = max(m for _, m in samples)
    held.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(3)
    after = rss_mib()
    await asyncio.sleep(7)
    later = rss_mib()
    stop.set()
    await sampler
    ok = [a for a in answered if a[1] == 200]
    slowest = max((a[2] for a in ok), default=0)
    codes = {}
    for _, c, _ in answered:
        codes[c] = codes.get(c, 0) + 1
    print(f"wave {n + 1}: hostile connections opened: {len(opened)} of {conns}, each sending {MIB - 1} bytes, held {hold:.0f} s")
    print(f"  receiver RSS: {base:.1f} MiB before, peak {peak_held:.1f} MiB while held, {after:.1f} MiB 3 s after they closed, {later:.1f} MiB 10 s after")
    print(f"  valid webhooks meanwhile: {len(ok)} of {valid} answered 200 (answers: {codes}), slowest 200 in {slowest:.2f} s")
    ok_ids.extend(i for i, _, _ in ok)

async def main():
    ok_ids = []
    for n in range(waves):
        await wave(n, ok_ids)
    with open(answered_path, "w") as f:
        for i in ok_ids:
            f.write(i + "\n")
asyncio.run(main())
PY

kill -TERM "$RECEIVER_PID"
wait "$RECEIVER_PID" || true
RECEIVER_PID=
STATUSES=$(ls "$WORK"/recv/statuses-*.csv)
MISSING=$(comm -23 <(sort "$WORK/answered.txt") <(tail -n +3 "$STATUSES" | cut -d, -f1 | sort) | wc -l)
echo "answered 200 but not in $(basename "$STATUSES"): $MISSING"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["requests"]; print("receiver counters:", {k: v for k, v in r.items() if v})' "$WORK"/recv/receiver-*.json
echo "receiver said:"
sed 's/^/  /' "$WORK/receiver.err" "$WORK/receiver.out"
[ "$MISSING" -eq 0 ]
