#!/usr/bin/env bash
# Why the load path has its own HTTP/1.1 client: the same closed loop (64 tasks, 8 s) with a pooled
# reqwest client, with hyper's connection-level client (one connection per task on one current-thread
# runtime, as wabench's engine used before), and with wabench's engine, against the same loopback nginx
# in one run. Prints requests/s and CPU per request of each, and the ratios to wabench.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18483}
CONNS=${CONNS:-64}
DURATION=${DURATION:-8}
work=$(mktemp -d /tmp/wabench-client.XXXXXX)
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true' EXIT
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q --bin wabench --example reqwest_loop --example hyper_loop
. benches/nginx.sh
/usr/bin/time -f "%U %S" -o "$work/t1" target/release/examples/reqwest_loop "$URL" "$CONNS" "$DURATION" > "$work/r1"
/usr/bin/time -f "%U %S" -o "$work/t3" target/release/examples/hyper_loop "$URL" "$CONNS" "$DURATION" > "$work/r3"
printf 'name = "c"\n[load]\nmodel = "closed"\nthreads = 1\nconnections = %s\nduration = "%ss"\n[[targets]]\nname = "n"\nkind = "http"\nurl = "%s"\n' \
  "$CONNS" "$DURATION" "$URL" > "$work/c.toml"
/usr/bin/time -f "%U %S" -o "$work/t2" target/release/wabench run "$work/c.toml" --out "$work/out" --quiet --no-report > /dev/null 2>&1
check_wabench "$work/out/run.json"
python3 - "$work" <<'PY'
import json, re, sys
w = sys.argv[1]
for f in ("r1", "r3"):
    failed = re.search(r"failed (\d+)", open(f"{w}/{f}").read())
    if not failed or int(failed.group(1)) != 0:
        sys.exit(f"bench: a client saw answers other than 200: {open(f'{w}/{f}').read().strip()}")
cpu = lambda f: sum(map(float, open(f"{w}/{f}").read().split()))
def loop(f):
    m = re.search(r"requests (\d+) in ([\d.]+)s", open(f"{w}/{f}").read())
    return int(m.group(1)), float(m.group(2))
t = json.load(open(f"{w}/out/run.json"))["targets"][0]
wn, ws = t["requests"]["sent"], t["duration_s"]
rows = [("reqwest, pooled, multi-thread", *loop("r1"), cpu("t1")),
        ("hyper conn per task, 1 thread", *loop("r3"), cpu("t3")),
        ("wabench (engine::h1), 1 thread", wn, ws, cpu("t2"))]
wr, wc = wn / ws, cpu("t2") / wn * 1e6
print(f"{'client':<34}{'req/s':>10}{'CPU µs/req':>12}{'wabench rate ×':>16}{'wabench CPU ×':>15}")
for name, n, s, c in rows:
    print(f"{name:<34}{n/s:>10.0f}{c/n*1e6:>12.2f}{wr/(n/s):>16.2f}{wc/(c/n*1e6):>15.2f}")
PY
