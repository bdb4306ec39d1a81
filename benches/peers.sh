#!/usr/bin/env bash
# Side-by-side benchmark of wabench against wrk, wrk2 (when on PATH) and oha, on the same loopback nginx
# serving a small static JSON, same connections and keep-alive, in one run. Prints one table with
# requests/s, CPU time per request, p50/p99 and peak RSS, and the ratios to wrk; then open-loop rate
# accuracy at 1k/10k/30k requests/s and the coordinated-omission check against a stalling server.
#
#   benches/peers.sh                 # defaults: 64 connections, 10 s per tool, 1 load thread each
#   DURATION=5 CONNS=64 THREADS=1 benches/peers.sh
#   SOAK=1 benches/peers.sh          # also RSS after 1 and 10 minutes at 10k requests/s (11 minutes)
#
# Installs what is missing: nginx and wrk from Debian, oha with cargo. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
PORT=${PORT:-18480}
STALL_PORT=${STALL_PORT:-18481}
work=$(mktemp -d /tmp/wabench-peers.XXXXXX)
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "${stall_pid:-}" ] && kill "$stall_pid" 2>/dev/null || true
}
trap cleanup EXIT

need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v oha >/dev/null || cargo install oha --locked -q
cargo build --release -q --bin wabench --example stall_server
WABENCH=target/release/wabench

. benches/nginx.sh

# Each tool runs under /usr/bin/time: user+sys CPU seconds and peak RSS (KiB).
timed() { /usr/bin/time -f "%U %S %M" -o "$work/time" "$@"; }
cpu() { awk '{print $1+$2}' "$work/time"; }
user() { awk '{print $1}' "$work/time"; }
rss() { awk '{print $3}' "$work/time"; }
rows=()

# wrk: closed loop, latency of each request from its actual send.
timed wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$URL" > "$work/wrk.txt"
check_wrk "$work/wrk.txt"
rows+=("$(python3 - "$work/wrk.txt" "$(cpu)" "$(rss)" "$(user)" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(s):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", s)
    if not m:
        sys.exit(f"bench: cannot read wrk's latency {s!r} in:\n{t}")
    v, u = float(m.group(1)), m.group(2)
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
n = int(re.search(r"(\d+) requests in", t).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1)); p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
print(f"wrk -t{__import__('os').environ.get('THREADS','1')}|{rps:.0f}|{float(sys.argv[2])/n*1e6:.2f}|{p50:.3f}|{p99:.3f}|{int(sys.argv[3])//1024}|{float(sys.argv[4])/n*1e6:.2f}")
PY
)")

# oha: closed loop, its default threads.
timed oha -z "${DURATION}s" -c "$CONNS" --no-tui --output-format json "$URL" > "$work/oha.json" 2>/dev/null
check_oha "$work/oha.json"
rows+=("$(python3 - "$work/oha.json" "$(cpu)" "$(rss)" "$(user)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); s = d["summary"]; p = d["latencyPercentiles"]
n = s["requestsPerSec"] * s["total"]
print(f"oha|{s['requestsPerSec']:.0f}|{float(sys.argv[2])/n*1e6:.2f}|{p['p50']*1000:.3f}|{p['p99']*1000:.3f}|{int(sys.argv[3])//1024}|{float(sys.argv[4])/n*1e6:.2f}")
PY
)")

# wrk2, when present: open loop at a rate wrk reached, for reference.
if command -v wrk2 >/dev/null; then
  timed wrk2 -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -R 50000 --latency "$URL" > "$work/wrk2.txt"
  check_wrk "$work/wrk2.txt"
  rows+=("wrk2 -R50k|$(grep -oP 'Requests/sec:\s+\K[\d.]+' "$work/wrk2.txt")|-|-|-|$(( $(rss) / 1024 ))|-")
fi

# wabench: closed loop, same connections, THREADS load threads.
wab() { # name, profile text
  printf '%s' "$2" > "$work/$1.toml"
  timed "$WABENCH" run "$work/$1.toml" --out "$work/$1" --quiet --no-report > /dev/null 2>&1 || true
}
wab closed "name = \"closed\"
[load]
model = \"closed\"
connections = $CONNS
threads = $THREADS
duration = \"${DURATION}s\"
[[targets]]
name = \"nginx\"
kind = \"http\"
url = \"$URL\"
"
check_wabench "$work/closed/run.json"
rows+=("$(python3 - "$work/closed/run.json" "$(cpu)" "$(rss)" "$(user)" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]; n = t["requests"]["sent"]
rps = n / t["duration_s"]
print(f"wabench closed|{rps:.0f}|{float(sys.argv[2])/n*1e6:.2f}|{t['latency_us']['p50']/1000:.3f}|{t['latency_us']['p99']/1000:.3f}|{int(sys.argv[3])//1024}|{float(sys.argv[4])/n*1e6:.2f}")
PY
)")

echo
echo "closed loop, $CONNS connections, ${DURATION}s, one nginx worker on loopback, $(nproc) cores"
python3 - "${rows[@]}" <<'PY'
import sys
rows = [r.split("|") for r in sys.argv[1:]]
base = next(r for r in rows if r[0].startswith("wrk -"))
print(f"{'tool':<16}{'req/s':>10}{'vs wrk':>9}{'CPU µs/req':>12}{'vs wrk':>9}{'user µs':>9}{'p50 ms':>9}{'p99 ms':>9}{'RSS MiB':>9}")
for r in rows:
    rr = float(r[1]) / float(base[1])
    cr = f"{float(r[2]) / float(base[2]):.2f}x" if r[2] != "-" else "-"
    print(f"{r[0]:<16}{float(r[1]):>10.0f}{rr:>8.2f}x{r[2]:>12}{cr:>9}{r[6]:>9}{r[3]:>9}{r[4]:>9}{r[5]:>9}")
print("(CPU: user + system time of the whole client process per request; user µs: its own code, the rest is")
print(" the kernel's TCP and system calls. One nginx worker bounds the requests/s: that ratio shows whether")
print(" a client holds the server back; CPU per request is what the client costs.)")
PY

echo
echo "open loop rate accuracy (wabench, $CONNS connections, ${DURATION}s each)"
printf '%-10s %12s %12s %9s %10s %10s\n' requested achieved ratio dropped "late p99" "p99"
for rate in 1000 10000 30000; do
  wab "open$rate" "name = \"open$rate\"
[load]
rate = $rate
duration = \"${DURATION}s\"
connections = $CONNS
[[targets]]
name = \"nginx\"
kind = \"http\"
url = \"$URL\"
"
  check_wabench "$work/open$rate/run.json"
  python3 - "$work/open$rate/run.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]
r = t["rate"]
print(f"{r['requested']:>10.0f} {r['achieved']:>12.1f} {r['ratio']:>12.4f} {t['requests']['dropped']:>9} {t['lateness_us']['p99']/1000:>9.2f}ms {t['latency_us']['p99']/1000:>8.2f}ms")
PY
done

echo
echo "coordinated omission: a server that stalls 500 ms every 5 s, 200 requests/s, 20 s"
target/release/examples/stall_server "127.0.0.1:$STALL_PORT" 5s 500ms > /dev/null &
stall_pid=$!
SURL="http://127.0.0.1:$STALL_PORT/"
for _ in $(seq 50); do curl -sf "$SURL" >/dev/null && break; sleep 0.1; done
wab co "name = \"co\"
[load]
rate = 200
duration = \"20s\"
connections = 200
[[targets]]
name = \"stall\"
kind = \"http\"
url = \"$SURL\"
"
wrk -t1 -c8 -d20s --latency "$SURL" > "$work/wrk-co.txt"
python3 - "$work/co/run.json" "$work/wrk-co.txt" <<'PY'
import json, re, sys
t = json.load(open(sys.argv[1]))["targets"][0]
w = open(sys.argv[2]).read()
wp99 = re.search(r"^\s+99%\s+(\S+)", w, re.M).group(1)
# Analytic open-loop p99: 10% of arrivals land in a stall and wait uniformly 0–500 ms, so the top 1%
# of all requests are the top 10% of those: about 0.9 × 500 = 450 ms.
print(f"analytic open-loop p99 ≈ 450 ms")
print(f"wabench open loop p99 = {t['latency_us']['p99']/1000:.1f} ms (p90 {t['latency_us']['p90']/1000:.1f} ms, service-time p99 {t['service_time_us']['p99']/1000:.1f} ms)")
print(f"wrk closed loop (8 connections) p99 = {wp99}")
PY

if [ "${SOAK:-0}" = 1 ]; then
  echo
  echo "memory: RSS after a 1-minute and a 10-minute open-loop run at 10k requests/s"
  for d in 60 600; do
    wab "soak$d" "name = \"soak$d\"
[load]
rate = 10000
duration = \"${d}s\"
connections = $CONNS
[[targets]]
name = \"nginx\"
kind = \"http\"
url = \"$URL\"
"
    echo "  ${d}s: peak RSS $(( $(rss) / 1024 )) MiB"
  done
fi
