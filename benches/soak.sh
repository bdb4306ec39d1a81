#!/usr/bin/env bash
# Soak: an open-loop run at RATE requests/s for DURATION seconds against a loopback nginx, with the
# load generator's RSS and open file descriptors sampled every second. Prints the samples' summary:
# RSS at the end of warm-up (60 s, or a tenth of the run if shorter) and at the end, and the growth.
#   benches/soak.sh                      # 10 minutes at 10k requests/s
#   DURATION=60 RATE=10000 benches/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-600}
RATE=${RATE:-10000}
PORT=${PORT:-18482}
work=$(mktemp -d /tmp/wabench-soak.XXXXXX)
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true' EXIT
cargo build --release -q --bin wabench
. benches/nginx.sh
cat > "$work/soak.toml" <<TOML
name = "soak"
[load]
rate = $RATE
duration = "${DURATION}s"
connections = 64
[[targets]]
name = "nginx"
kind = "http"
url = "$URL"
TOML
target/release/wabench run "$work/soak.toml" --out "$work/out" --quiet > "$work/stdout" 2>&1 &
pid=$!
: > "$work/samples"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
  [ -n "$rss" ] && echo "$rss $fds" >> "$work/samples"
  sleep 1
done
wait "$pid" || true
check_wabench "$work/out/run.json"
python3 - "$work/samples" "$work/out/run.json" "$DURATION" <<'PY'
import json, sys
s = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
d = int(sys.argv[3]); warm = min(60, max(1, d // 10))
after = s[warm:] or s
t = json.load(open(sys.argv[2]))["targets"][0]
print(f"{len(s)} samples; requests sent {t['requests']['sent']}, achieved {t['rate']['achieved']:.1f}/s, dropped {t['requests']['dropped']}")
print(f"RSS after warm-up ({warm}s) {after[0][0]/1024:.1f} MiB, at the end {after[-1][0]/1024:.1f} MiB, max {max(r for r,_ in after)/1024:.1f} MiB, growth {100*(after[-1][0]-after[0][0])/after[0][0]:+.2f}%")
print(f"file descriptors: min {min(f for _,f in after)}, max {max(f for _,f in after)}")
PY
