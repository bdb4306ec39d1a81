# Sourced by the benchmark scripts: start one nginx worker on 127.0.0.1:$PORT serving a small JSON
# from the folder $work (created by the caller), installing nginx when absent. Sets URL; the caller's
# exit trap stops nginx through $work/nginx.pid. With NGINX_H2=1 it speaks cleartext HTTP/2 (prior
# knowledge, h2c): `http2 on;` from nginx 1.25.1, `listen … http2` before (Debian 12 has 1.22). With
# NGINX_RETURN=1 every request (any method and path, its body discarded) gets the same JSON from memory
# (`return 200`): no file to open per request, the leanest answer nginx gives.
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
mkdir -p "$work/html" "$work/logs"
BODY='{"messaging_product":"whatsapp","messages":[{"id":"wamid.benchmark"}]}'
printf '%s' "$BODY" > "$work/html/index.json"
# nginx's worker runs as an unprivileged user: the folder (mktemp makes it 0700) must be readable by it,
# or every answer is 403.
chmod a+rx "$work" "$work/html"
chmod a+r "$work/html/index.json"
listen="listen 127.0.0.1:$PORT;" h2conf="" curl_h2=() want_version=""
if [ "${NGINX_H2:-0}" = 1 ]; then
  ver=$(nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
  if [ "$(printf '%s\n1.25.1\n' "$ver" | sort -V | head -1)" = "1.25.1" ]; then
    listen="listen 127.0.0.1:$PORT; http2 on;"
  else
    listen="listen 127.0.0.1:$PORT http2;"
  fi
  h2conf="http2_max_concurrent_streams 1024;" curl_h2=(--http2-prior-knowledge) want_version="2 "
fi
answer=""
[ "${NGINX_RETURN:-0}" = 1 ] && answer="return 200 '$BODY';"
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
  $h2conf
  server { $listen root $work/html; location / { default_type application/json; $answer } }
}
NGX
nginx -c "$work/nginx.conf" -p "$work"
URL="http://127.0.0.1:$PORT/index.json"
for _ in $(seq 50); do curl -sf "${curl_h2[@]}" "$URL" >/dev/null && break; sleep 0.1; done
# The server must answer 200 with the intended body before anything is measured against it.
# (Over HTTP/2 when asked: curl prints the version before the status.)
fmt='\n%{http_code}'
[ -n "$want_version" ] && fmt='\n%{http_version} %{http_code}'
got=$(curl -s "${curl_h2[@]}" -w "$fmt" "$URL" || true)
if [ "$got" != "$BODY"$'\n'"${want_version}200" ]; then
  echo "bench: $URL does not answer ${want_version:+HTTP/$want_version}200 with the benchmark body (got: ${got//$'\n'/ | })" >&2
  exit 1
fi
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
