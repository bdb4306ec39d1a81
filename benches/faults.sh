#!/usr/bin/env bash
# The fault table: one loopback server per fault (benches/faults/server.py, independent of wabench's
# own tests), 60 POSTs at 20/s over one connection, for each wabench binary given. Prints what the
# server received and what wabench reported (sent, resent, outcomes). A silent resend shows as a server
# count above 60 with resent 0.
#
#   benches/faults.sh                                  # the working tree's release build
#   benches/faults.sh /tmp/old/wabench target/release/wabench
#   MODES="reset_mid_body every_third_close" benches/faults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { cargo build --release -q --bin wabench; set -- target/release/wabench; }
PORT=${PORT:-18490}
work=$(mktemp -d /tmp/wabench-faults.XXXXXX)
head -c 262144 /dev/zero | tr '\0' x > "$work/body.bin"
modes=${MODES:-"close_after_head close_after_request reset_mid_body head_then_close chunked_cut stall garbage_status
endless_1xx connection_close http10 idle_close every_third_close"}
printf '%-22s %-28s %6s %6s %7s  %s\n' mode binary server sent resent outcomes
for mode in $modes; do
  for bin in "$@"; do
    python3 benches/faults/server.py "$mode" "$PORT" > "$work/server.out" &
    pid=$!
    for _ in $(seq 50); do grep -q ready "$work/server.out" 2>/dev/null && break; sleep 0.1; done
    cat > "$work/p.toml" <<TOML
name = "faults"
[load]
rate = 20
duration = "3s"
connections = 1
timeout = "500ms"
max_in_flight = 100
[[targets]]
name = "t"
kind = "http"
url = "http://127.0.0.1:$PORT/send"
method = "POST"
body_file = "body.bin"
TOML
    rm -rf "$work/out"
    "$bin" run "$work/p.toml" --out "$work/out" --quiet --no-report > /dev/null 2>&1 || true
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    seen=$(tail -1 "$work/server.out")
    python3 - "$work/out/run.json" "$mode" "$bin" "$seen" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]; r = t["requests"]
o = " ".join(f"{x['key']}={x['count']}" for x in t["outcomes"])
name = sys.argv[3] if len(sys.argv[3]) <= 28 else "…" + sys.argv[3][-27:]
print(f"{sys.argv[2]:<22} {name:<28} {sys.argv[4]:>6} {r['sent']:>6} {r.get('resent', '-'):>7}  {o}")
PY
  done
done
