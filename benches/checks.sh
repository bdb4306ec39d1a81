# Sourced by the benchmark scripts: a benchmark first checks that what it timed succeeded. Each check
# prints what went wrong and exits 1, so a figure taken against an error path is never reported.

# wrk's output FILE: no "Non-2xx or 3xx responses" and no socket errors.
check_wrk() {
  if grep -q 'Non-2xx or 3xx responses' "$1"; then
    echo "bench: wrk saw non-2xx answers: $(grep 'Non-2xx' "$1")" >&2; exit 1
  fi
  if grep -q 'Socket errors' "$1"; then
    echo "bench: wrk saw socket errors: $(grep 'Socket errors' "$1")" >&2; exit 1
  fi
}

# oha's JSON output FILE: every answer 200.
check_oha() {
  python3 - "$1" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1])).get("statusCodeDistribution", {})
bad = {k: v for k, v in d.items() if str(k) != "200"}
if not d or bad:
    sys.exit(f"bench: oha saw answers other than 200: {d}")
PY
}

# A wabench run.json: every answer of every target was a success (no error outcome; requests that were
# not sent — dropped by an open loop — are a measurement, not a failure).
check_wabench() {
  python3 - "$1" <<'PY' || exit 1
import json, sys
for t in json.load(open(sys.argv[1]))["targets"]:
    r = t["requests"]
    if r["ok"] == 0 or r["errors"]:
        sys.exit(f"bench: wabench target {t['name']} did not succeed throughout: {r} {[(o['key'], o['count']) for o in t['outcomes']]}")
PY
}
