#!/usr/bin/env bash
# HTTP/2 side by side: one loopback nginx speaking cleartext HTTP/2 (prior knowledge, h2c), driven in
# the same run first by h2load (-c CONNS -m STREAMS, one thread) and then by wabench's closed loop with
# the same connections and streams (connections = CONNS × STREAMS tasks, streams_per_connection =
# STREAMS, one thread). Prints requests/s and CPU per request of each and wabench's ratios to h2load.
# Fails loudly when either saw an answer other than 2xx (h2load's status code counts, wabench's
# outcomes) or the server does not answer 200 with the benchmark body over HTTP/2.
#   CONNS=4 STREAMS=16 DURATION=8 benches/h2load.sh
# WABENCH_BIN=path uses that binary instead of building the release one (e.g. to check the script
# quickly with a debug build; its figures then mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18487}
CONNS=${CONNS:-4}
STREAMS=${STREAMS:-16}
DURATION=${DURATION:-8}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
command -v h2load >/dev/null || { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null; }
command -v nginx >/dev/null || { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
[ -x /usr/bin/time ] || { as_root apt-get update -qq && as_root apt-get install -y -qq time >/dev/null; }
work=$(mktemp -d /tmp/wabench-h2load.XXXXXX)
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
if [ -z "${WABENCH_BIN:-}" ]; then cargo build --release -q --bin wabench; fi
WABENCH_BIN=${WABENCH_BIN:-target/release/wabench}

NGINX_H2=1 . benches/nginx.sh

/usr/bin/time -f "%U %S" -o "$work/t_h2load" \
  h2load -c "$CONNS" -m "$STREAMS" -t 1 -D "$DURATION" "$URL" > "$work/h2load.out" 2>&1 \
  || { cat "$work/h2load.out" >&2; echo "bench: h2load failed" >&2; exit 1; }
printf 'name = "h2"\n[load]\nmodel = "closed"\nthreads = 1\nconnections = %s\nstreams_per_connection = %s\nduration = "%ss"\n[[targets]]\nname = "nginx"\nkind = "http"\nurl = "%s"\nhttp_version = "2"\n' \
  "$((CONNS * STREAMS))" "$STREAMS" "$DURATION" "$URL" > "$work/h2.toml"
/usr/bin/time -f "%U %S" -o "$work/t_wabench" \
  "$WABENCH_BIN" run "$work/h2.toml" --out "$work/out" --quiet --no-report > "$work/wabench.out" 2>&1 \
  || { cat "$work/wabench.out" >&2; echo "bench: wabench failed" >&2; exit 1; }
check_wabench "$work/out/run.json"

python3 - "$work" "$CONNS" "$STREAMS" <<'PY'
import json, re, sys
w, conns, streams = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = open(f"{w}/h2load.out").read()
req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
took = re.search(r"finished in ([\d.]+)(m?s),", out)
if not (req and codes and took):
    sys.exit(f"bench: could not read h2load's output:\n{out}")
failed, errored, timeout = map(int, req.group(5, 6, 7))
ok2xx, non2xx = int(codes.group(1)), sum(map(int, codes.group(2, 3, 4)))
if non2xx or failed or errored or timeout or ok2xx == 0:
    sys.exit(f"bench: h2load saw answers other than 2xx or failures:\n{req.group(0)}\n{codes.group(0)}")
hs = float(took.group(1)) / (1000 if took.group(2) == "ms" else 1)
cpu = lambda f: sum(map(float, open(f"{w}/{f}").read().split()))
run = json.load(open(f"{w}/out/run.json"))
t = run["targets"][0]
opened = (t.get("connection_phases") or {}).get("opened")
if opened != conns:
    sys.exit(f"bench: wabench opened {opened} connections, expected {conns}")
wn, ws = t["requests"]["ok"], t["duration_s"]
rows = [(f"h2load -c {conns} -m {streams} -t 1", ok2xx, hs, cpu("t_h2load")),
        (f"wabench {conns} conn × {streams} streams", wn, ws, cpu("t_wabench"))]
hr, hc = ok2xx / hs, cpu("t_h2load") / ok2xx * 1e6
print(f"{'client':<34}{'req/s':>10}{'CPU µs/req':>12}{'rate ÷ h2load':>15}{'CPU ÷ h2load':>14}")
for name, n, s, c in rows:
    print(f"{name:<34}{n/s:>10.0f}{c/n*1e6:>12.2f}{(n/s)/hr:>15.2f}{(c/n*1e6)/hc:>14.2f}")
print("(every answer was 2xx for both; CPU is user + system of each client process, wabench's including its start-up and results)")
PY
