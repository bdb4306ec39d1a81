#!/usr/bin/env bash
# Import a large synthetic JMeter .jtl and report the import's time and peak RSS: the import streams
# the file line by line and holds only a 300-second window of per-second histograms, so its memory
# must not grow with the file.
#
#   SIZE_MB=1024 benches/import_big_jtl.sh        # a ~1 GB file (default 1024 MB)
#
# Writes into a temporary folder (removed at the end); needs /usr/bin/time (Debian package `time`).
set -euo pipefail
SIZE_MB=${SIZE_MB:-1024}
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/wabench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
JTL="$TMP/big.jtl"
# ~110 bytes a line: 1 GB ≈ 9.7 million samples at 1,000/s ≈ 2.7 hours, two labels, 0.4% errors.
LINES=$(( SIZE_MB * 1024 * 1024 / 110 ))
awk -v n="$LINES" 'BEGIN {
  print "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect";
  t0 = 1700000000000;
  for (i = 0; i < n; i++) {
    e = 40 + (i * 7919) % 97 + ((i % 101) == 0 ? 200 : 0);
    code = (i % 250 == 0) ? "503" : "200"; ok = (i % 250 == 0) ? "false" : "true";
    label = (i % 2 == 0) ? "send text" : "send template";
    printf "%.0f,%d,%s,%s,OK,Thread Group 1-%d,text,%s,,412,310,8,8,http://127.0.0.1/v1/messages,%d,0,1\n", t0 + i, e, label, code, i % 8 + 1, ok, e;
  }
}' > "$JTL"
ls -l "$JTL"
/usr/bin/time -v "$BIN" import --from jmeter "$JTL" --name big --out "$TMP/out" --no-report 2> "$TMP/time.txt" > "$TMP/out.txt"
grep -E "^(target|sent|errors|duration) " "$TMP/out.txt"
grep -E "Elapsed \(wall clock\)|Maximum resident set size|Exit status" "$TMP/time.txt"
