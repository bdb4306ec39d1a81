#!/usr/bin/env bash
# A/B of the load path between two builds of wabench: the working tree's release build and that of
# another commit (BASE, default HEAD~1), closed loop against the same loopback nginx worker, run in
# turn (A B A B …) so both see the same machine. Prints each run's requests/s and CPU per request and,
# per round, B/A ratios; then min / median / max of the ratios.
#
#   BASE=515bbf8 ROUNDS=3 DURATION=8 benches/ab.sh
#   A_BIN=/path/to/old/wabench benches/ab.sh      # a base binary built before
#
# The base is built in a worktree under /tmp with its own target folder (a first build takes minutes),
# unless A_BIN names a binary already built.
# Every run must answer 200 throughout (benches/checks.sh), or the script fails. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:-HEAD~1}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
PORT=${PORT:-18482}
work=$(mktemp -d /tmp/wabench-ab.XXXXXX)
cleanup() { [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; }
trap cleanup EXIT
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

if [ -n "${A_BIN:-}" ]; then
  commit="$A_BIN ($("$A_BIN" --version))" A="$A_BIN"
else
  commit=$(git rev-parse --short "$BASE")
  tree=/tmp/wabench-ab-$commit
  [ -d "$tree" ] || git worktree add -q --detach "$tree" "$commit"
  (cd "$tree" && cargo build --release -q --bin wabench)
  A="$tree/target/release/wabench"
fi
cargo build --release -q --bin wabench
B=target/release/wabench

. benches/nginx.sh
. benches/checks.sh

cat > "$work/closed.toml" <<TOML
name = "ab"
[load]
model = "closed"
connections = $CONNS
threads = $THREADS
duration = "${DURATION}s"
[[targets]]
name = "nginx"
kind = "http"
url = "$URL"
TOML

# One run of binary $1 as run $2: prints "requests/s cpu-µs-per-request".
one() {
  /usr/bin/time -f "%U %S" -o "$work/time" "$1" run "$work/closed.toml" --out "$work/$2" --quiet --no-report \
    > /dev/null 2>&1 || true
  check_wabench "$work/$2/run.json"
  python3 - "$work/$2/run.json" "$work/time" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["targets"][0]; n = t["requests"]["sent"]
u, s = map(float, open(sys.argv[2]).read().split()[:2])
print(f"{n / t['duration_s']:.0f} {(u + s) / n * 1e6:.3f}")
PY
}

echo "A = $commit, B = working tree; closed loop, $CONNS connections, ${DURATION}s, one nginx worker, $(nproc) cores"
printf '%-6s %12s %10s %12s %10s %8s %8s\n' round "A req/s" "A µs/req" "B req/s" "B µs/req" "rate B/A" "cpu B/A"
ratios=()
for r in $(seq 1 "$ROUNDS"); do
  read -r ra ca < <(one "$A" "a$r")
  read -r rb cb < <(one "$B" "b$r")
  rr=$(python3 -c "print(f'{$rb/$ra:.3f}')") cr=$(python3 -c "print(f'{$cb/$ca:.3f}')")
  printf '%-6s %12s %10s %12s %10s %8s %8s\n' "$r" "$ra" "$ca" "$rb" "$cb" "$rr" "$cr"
  ratios+=("$rr,$cr")
done
python3 - "${ratios[@]}" <<'PY'
import statistics, sys
rate = sorted(float(x.split(",")[0]) for x in sys.argv[1:]); cpu = sorted(float(x.split(",")[1]) for x in sys.argv[1:])
f = lambda v: f"{v[0]:.3f} / {statistics.median(v):.3f} / {v[-1]:.3f}"
print(f"B/A requests/s (min / median / max): {f(rate)}")
print(f"B/A CPU per request (min / median / max): {f(cpu)}")
PY
