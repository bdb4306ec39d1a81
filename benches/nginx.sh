# Sourced by the benchmark scripts: start one nginx worker on 127.0.0.1:$PORT serving a small JSON
# from the folder $work (created by the caller), installing nginx when absent. Sets URL; the caller's
# exit trap stops nginx through $work/nginx.pid.
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
mkdir -p "$work/html" "$work/logs"
BODY='{"messaging_product":"whatsapp","messages":[{"id":"wamid.benchmark"}]}'
printf '%s' "$BODY" > "$work/html/index.json"
# nginx's worker runs as an unprivileged user: the folder (mktemp makes it 0700) must be readable by it,
# or every answer is 403.
chmod a+rx "$work" "$work/html"
chmod a+r "$work/html/index.json"
cat > "$work/nginx.conf" <<NGX
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 900s;
  server { listen 127.0.0.1:$PORT; root $work/html; location / { default_type application/json; } }
}
NGX
nginx -c "$work/nginx.conf" -p "$work"
URL="http://127.0.0.1:$PORT/index.json"
for _ in $(seq 50); do curl -sf "$URL" >/dev/null && break; sleep 0.1; done
# The server must answer 200 with the intended body before anything is measured against it.
got=$(curl -s -w '\n%{http_code}' "$URL" || true)
if [ "$got" != "$BODY"$'\n'"200" ]; then
  echo "bench: $URL does not answer 200 with the benchmark body (got: ${got//$'\n'/ | })" >&2
  exit 1
fi
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
