#!/usr/bin/env bash
# Why the load path uses hyper's connection-level API: the same closed loop (64 tasks, 8 s) with a
# pooled reqwest client and with wabench's engine, against the same loopback nginx in one run.
# Prints requests/s and CPU per request of both.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18483}
CONNS=${CONNS:-64}
DURATION=${DURATION:-8}
work=$(mktemp -d /tmp/wabench-client.XXXXXX)
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true' EXIT
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q --bin wabench --example reqwest_loop
. benches/nginx.sh
/usr/bin/time -f "%U %S" -o "$work/t1" target/release/examples/reqwest_loop "$URL" "$CONNS" "$DURATION" > "$work/r1"
printf 'name = "c"\n[load]\nmodel = "closed"\nconnections = %s\nduration = "%ss"\n[[targets]]\nname = "n"\nkind = "http"\nurl = "%s"\n' \
  "$CONNS" "$DURATION" "$URL" > "$work/c.toml"
/usr/bin/time -f "%U %S" -o "$work/t2" target/release/wabench run "$work/c.toml" --out "$work/out" --quiet --no-report > /dev/null 2>&1
check_wabench "$work/out/run.json"
python3 - "$work" <<'PY'
import json, re, sys
w = sys.argv[1]
failed = re.search(r"failed (\d+)", open(f"{w}/r1").read())
if not failed or int(failed.group(1)) != 0:
    sys.exit(f"bench: reqwest_loop saw answers other than 200: {open(f'{w}/r1').read().strip()}")
cpu = lambda f: sum(map(float, open(f"{w}/{f}").read().split()))
m = re.search(r"requests (\d+) in ([\d.]+)s", open(f"{w}/r1").read())
rn, rs = int(m.group(1)), float(m.group(2))
t = json.load(open(f"{w}/out/run.json"))["targets"][0]
wn, ws = t["requests"]["sent"], t["duration_s"]
print(f"{'client':<36}{'req/s':>10}{'CPU µs/req':>12}")
print(f"{'reqwest, pooled, multi-thread':<36}{rn/rs:>10.0f}{cpu('t1')/rn*1e6:>12.2f}")
print(f"{'wabench (hyper conn per task)':<36}{wn/ws:>10.0f}{cpu('t2')/wn*1e6:>12.2f}")
PY
