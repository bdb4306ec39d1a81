#!/usr/bin/env bash
# What per-request templates cost: the same closed loop (64 virtual users on 1 thread, DURATION s)
# against the same loopback nginx (benches/nginx.sh), alternately with a fixed request (serialised
# once, the fast path) and with a request of about the same size whose URL query, a header and
# body are filled per request from a feeder row, {{seq}} and {{uuid}}. Prints requests/s and CPU
# µs per request of each and the templated / fixed CPU ratio (the goal: a few percent at most).
# Fails when nginx does not answer the requests 200 or a run saw an error.
#   bash benches/templating.sh            # DURATION=10 ROUNDS=2 CONNS=64 PORT=18485 by default
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18485}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
work=$(mktemp -d /tmp/wabench-templating.XXXXXX)
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true' EXIT
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q --bin wabench
. benches/nginx.sh

# 1,000 users; the fixed request is the one the templated target sends for row 500.
python3 - "$work/users.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("user_id,name,order_id\n")
    for i in range(1000):
        f.write(f'u-{i},"Name {i}, Jr",A-{i}\n')
PY
UUID=3f1c2a9e-5b7d-4e21-9c3a-7d2e8f0b1a64
FIXED_BODY='{"user":"u-500","name":"Name 500, Jr","order":"A-500","seq":500,"id":"'$UUID'"}'
TPL_BODY='{"user":"{{user_id}}","name":"{{name}}","order":"{{order_id}}","seq":{{seq}},"id":"{{uuid}}"}'
# nginx answers a GET with a body as it answers one without (it discards the body): check it.
code=$(curl -s -o /dev/null -w '%{http_code}' -X GET -H 'content-type: application/json' \
  -H "x-request-id: $UUID" --data-binary "$FIXED_BODY" "$URL?user=u-500&n=500")
[ "$code" = 200 ] || { echo "bench: nginx answers the benchmark request $code, not 200" >&2; exit 1; }

profile() { # NAME QUERY REQUEST_ID BODY [FEEDER]
  printf 'name = "%s"\nseed = 3\n[load]\nmodel = "closed"\nthreads = 1\nconnections = %s\nduration = "%ss"\n' "$1" "$CONNS" "$DURATION"
  printf '[[targets]]\nname = "n"\nkind = "http"\nurl = "%s?%s"\n' "$URL" "$2"
  printf 'headers = { content-type = "application/json", x-request-id = "%s" }\n' "$3"
  printf "body = '%s'\n" "$4"
  [ -z "${5:-}" ] || printf 'feeder = { file = "%s", order = "sequential" }\n' "$5"
}
profile fixed "user=u-500&n=500" "$UUID" "$FIXED_BODY" > "$work/fixed.toml"
profile templated "user={{user_id}}&n={{seq}}" "{{uuid}}" "$TPL_BODY" users.csv > "$work/templated.toml"
for p in fixed templated; do target/release/wabench validate "$work/$p.toml" > /dev/null; done

for r in $(seq "$ROUNDS"); do
  for p in fixed templated; do
    /usr/bin/time -f "%U %S" -o "$work/$p.$r.time" target/release/wabench run "$work/$p.toml" \
      --out "$work/$p.$r" --quiet --no-report > /dev/null 2>&1
    check_wabench "$work/$p.$r/run.json"
  done
done

python3 - "$work" "$ROUNDS" <<'PY'
import json, sys
w, rounds = sys.argv[1], int(sys.argv[2])
def total(p):
    n = s = cpu = 0
    for r in range(1, rounds + 1):
        t = json.load(open(f"{w}/{p}.{r}/run.json"))["targets"][0]
        n += t["requests"]["sent"]; s += t["duration_s"]
        cpu += sum(map(float, open(f"{w}/{p}.{r}.time").read().split()))
    return n, s, cpu
rows = {p: total(p) for p in ("fixed", "templated")}
print(f"{'request':<12}{'requests':>10}{'req/s':>10}{'CPU µs/req':>12}")
for p, (n, s, cpu) in rows.items():
    print(f"{p:<12}{n:>10}{n/s:>10.0f}{cpu/n*1e6:>12.2f}")
(fn, _, fc), (tn, _, tc) = rows["fixed"], rows["templated"]
ratio = (tc / tn) / (fc / fn)
print(f"templated / fixed CPU per request: {ratio:.3f} ({(ratio - 1) * 100:+.1f}%)")
PY
