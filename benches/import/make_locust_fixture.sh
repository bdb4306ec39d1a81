#!/usr/bin/env bash
# Make tests/fixtures/import/real/locust_* with the real Locust against wabench's Cloud API simulator on
# a loopback port: 10 users at ~5 messages/s each for 10 s, `--csv` output. Needs `pip install locust`
# (PYTHONPATH may point at a --target install) and a built wabench (WABENCH=path, default target/debug).
set -euo pipefail
cd "$(dirname "$0")/../.."
WABENCH=${WABENCH:-${CARGO_TARGET_DIR:-target}/debug/wabench}
PORT=${PORT:-18091}
OUT=tests/fixtures/import/real
mkdir -p "$OUT"
"$WABENCH" simulate --flavor cloud --listen "127.0.0.1:$PORT" > /dev/null &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT
sleep 1
timeout 60 python3 -m locust -f benches/import/locust_cloud.py --headless -u 10 -r 10 -t 10s \
    --host "http://127.0.0.1:$PORT" --csv "$OUT/locust" --only-summary > /dev/null 2>&1 || true
rm -f "$OUT/locust_exceptions.csv"
ls -l "$OUT"
