#!/usr/bin/env bash
# How cost grows with work: time and peak RSS of `wabench report` on results of a 1-minute, 10-minute
# and 1-hour run at 10k requests/s, of `wabench compare` on two folders of the same length, of
# `wabench merge` on 2, 8 and 32 shards of a 10-minute run; the interval log's bytes per hour per
# target; the capacity planner's overhead per step. Loopback only.
#
# The results folders are synthetic (examples/synth_results.rs writes them with the crate's own
# writers, exactly the files a run writes, seeded log-normal latencies): a real hour at 10k/s is too
# long for a benchmark. A real 10-second run at 10k requests/s on the embedded simulator checks that
# they have the same files and format, and gives the interval-log size to compare with.
#
#   benches/cost_growth.sh                 # every row, each measured REPEATS (3) times
#   REPEATS=1 SECONDS_LIST="60 600" benches/cost_growth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
SECONDS_LIST=${SECONDS_LIST:-"60 600 3600"}
SHARDS_LIST=${SHARDS_LIST:-"2 8 32"}
RATE=${RATE:-10000}
work=$(mktemp -d /tmp/wabench-cost.XXXXXX)
trap 'rm -rf "$work"' EXIT
cargo build --release -q --bin wabench --example synth_results
W=target/release/wabench
SYN=target/release/examples/synth_results
label() { case $1 in 60) echo 1m ;; 600) echo 10m ;; 3600) echo 1h ;; *) echo "${1}s" ;; esac; }

# `measure NAME CMD…`: run CMD REPEATS times under /usr/bin/time; print min/median/max of the wall
# time and of the peak RSS. CMD must succeed.
measure() {
  local name=$1; shift
  : > "$work/times"
  for _ in $(seq 1 "$REPEATS"); do
    [ -n "${PREP:-}" ] && eval "$PREP"
    /usr/bin/time -f "%e %M" -o "$work/t1" "$@" > "$work/out" 2>&1 || { echo "failed: $*"; cat "$work/out"; exit 1; }
    cat "$work/t1" >> "$work/times"
  done
  python3 - "$name" "$work/times" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
t = sorted(r[0] for r in rows); m = sorted(r[1] / 1024 for r in rows)
f = lambda xs, fmt: "/".join(fmt.format(x) for x in (xs[0], statistics.median(xs), xs[-1]))
print(f"| {sys.argv[1]:<36} | {f(t, '{:.2f}'):>18} | {f(m, '{:.0f}'):>14} |")
PY
}

# 1. A real 10-second run at 10k requests/s on the embedded simulator: the reference file set.
cat > "$work/real.toml" <<TOML
name = "cost-real"
seed = 42
[load]
model = "open"
rate = $RATE
duration = "10s"
connections = 64
timeout = "5s"
drain = "2s"
[messages]
text = 100
[recipients]
country_code = "1"
count = 200000
[simulator]
seed = 42
[simulator.latency]
median = "2ms"
p99 = "20ms"
[simulator.cloud]
throughput_mps = 0
[simulator.cloud.pair_limit]
enabled = false
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
TOML
"$W" run "$work/real.toml" --out "$work/real" --quiet --no-report > "$work/real.out" 2>&1 \
  || { cat "$work/real.out"; exit 1; }
. benches/checks.sh
check_wabench "$work/real/run.json"

# 2. Synthetic folders; each must have the real run's files and read back.
for s in $SECONDS_LIST; do
  "$SYN" "$work/a$s" "$s" "$RATE" 1 42
  "$SYN" "$work/b$s" "$s" "$RATE" 1 43
done
for n in $SHARDS_LIST; do "$SYN" "$work/sh$n" 600 "$RATE" "$n" 42; done
first=$(set -- $SECONDS_LIST; echo "$1")
data_files() { ls "$1" | grep -Ev '\.(png|svg|html)$'; }  # the report's files are drawn later
if [ "$(data_files "$work/real")" != "$(data_files "$work/a$first")" ]; then
  echo "synthetic files differ from a run's:"; ls "$work/real" "$work/a$first"; exit 1
fi
python3 - "$work/real" "$work/a$first" <<'PY'
import sys
def shape(d):
    lines = open(f"{d}/cloud.hlog").read().splitlines()
    head = [l.split(":")[0] for l in lines if l.startswith("#")]
    tags = {l.split(",")[0] for l in lines if not l.startswith("#")}
    tl = open(f"{d}/timeline.csv").readline()
    # Connection phases (a few histograms per run, not per second) are left out of the synthetic files.
    totals = sorted(t for t in (l.split(",")[0] for l in open(f"{d}/cloud.totals.hlog") if l.startswith("Tag="))
                    if not t.startswith("Tag=connection:"))
    return head, tags, tl, totals
r, s = shape(sys.argv[1]), shape(sys.argv[2])
if r[:3] != s[:3] or not set(r[3]) <= set(s[3]):
    sys.exit(f"synthetic format differs from a run's:\n{r}\n{s}")
PY

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); repeats: $REPEATS (min/median/max)"
echo
echo "| what                                 |     wall s min/med/max | RSS MiB min/med/max |"
echo "|---|---|---|"
for s in $SECONDS_LIST; do
  measure "report $(label "$s") (synthetic)" "$W" report "$work/a$s"
done
for s in $SECONDS_LIST; do
  PREP="rm -rf '$work/cmp'" measure "compare 2 × $(label "$s") (synthetic)" \
    "$W" compare "$work/a$s" "$work/b$s" --out "$work/cmp"
done
for n in $SHARDS_LIST; do
  PREP="rm -rf '$work/m'" measure "merge $n shards × 10m (synthetic)" "$W" merge "$work/sh$n"/shard* --out "$work/m"
done
echo

# 3. Interval-log bytes per hour per target.
python3 - "$work/real" "$work" "$SECONDS_LIST" <<'PY'
import json, os, sys
real, work, secs = sys.argv[1], sys.argv[2], sys.argv[3].split()
d = json.load(open(f"{real}/run.json"))["targets"][0]["duration_s"]
b = os.path.getsize(f"{real}/cloud.hlog")
print(f"interval log, real 10 s run at 10k/s: {b} bytes over {d:.1f} s = {b / d * 3600 / 2**20:.1f} MiB per hour per target (extrapolated)")
for s in secs:
    b = os.path.getsize(f"{work}/a{s}/cloud.hlog")
    print(f"interval log, synthetic {s} s at 10k/s: {b} bytes = {b / int(s) * 3600 / 2**20:.1f} MiB per hour per target")
PY

# 4. The capacity planner's overhead per step: `wabench plan` of a small profile on the embedded
# simulator (Cloud at its default 80 messages/s, 2-second steps, 2 ms median latency so that draining
# a step is short); wall time and CPU beyond the steps' own durations, per step.
cat > "$work/plan.toml" <<TOML
name = "cost-plan"
seed = 7
[load]
connections = 16
timeout = "2s"
drain = "1s"
[messages]
text = 100
[recipients]
country_code = "1"
count = 20000
[plan]
slo_p99 = "500ms"
max_error_rate = 0.01
start_rate = 20
growth = 2
step = "2s"
refine = 2
[simulator]
seed = 7
[simulator.latency]
median = "2ms"
p99 = "10ms"
[[targets]]
name = "cloud"
kind = "cloud"
base_url = "embedded"
TOML
: > "$work/plan.times"
for i in $(seq 1 "$REPEATS"); do
  /usr/bin/time -f "%e %U %S %M" -o "$work/t1" "$W" plan "$work/plan.toml" --out "$work/plan$i" > "$work/out" 2>&1 \
    || { cat "$work/out"; exit 1; }
  echo "$(cat "$work/t1") $(($(wc -l < "$work/plan$i/steps.csv") - 1))" >> "$work/plan.times"
done
python3 - "$work/plan.times" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
over = sorted((float(r[0]) - 2.0 * int(r[4])) / int(r[4]) for r in rows)
cpu = sorted((float(r[1]) + float(r[2])) / int(r[4]) for r in rows)
f = lambda xs: "/".join(f"{x:.2f}" for x in (xs[0], statistics.median(xs), xs[-1]))
print(f"planner: {rows[0][4]} steps of 2 s; wall beyond the steps per step {f(over)} s, CPU per step {f(cpu)} s (min/median/max)")
PY
