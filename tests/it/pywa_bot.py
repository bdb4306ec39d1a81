"""A WhatsApp bot built on pywa (a third-party Python SDK of the Cloud API), independent of wabench's
own code: pywa's webhook server takes the webhooks (subscription handshake, X-Hub-Signature-256
checked with the app secret, updates parsed into pywa's types) and pywa's client sends the replies.

  text "menu" (any case)  -> reply buttons Orders / Support / Slow path, quoting the user's message
  any other text          -> "echo: <text>", quoting the user's message
  a button pressed        -> "you chose <id>", quoting it
  statuses (of the bot's own replies) are counted and otherwise ignored

Its settings come from the environment wabench gives a bot it starts (`[targets.conversation.bot]`):
WABENCH_BOT_LISTEN (host:port), WABENCH_WEBHOOK_PATH, WABENCH_GRAPH_URL, WABENCH_API_VERSION (v23.0),
WABENCH_ACCESS_TOKEN, WABENCH_APP_SECRET, WABENCH_VERIFY_TOKEN, WABENCH_PHONE_NUMBER_ID.

The server: pywa 4.5's built-in one (`WhatsApp(server=None)` + `wa.run()`: a Starlette app served by
uvicorn, the `pywa[server]` extra). Its webhook route answers 200 once the signature is checked and
runs the handlers after the response (a background task; sync handlers in a thread pool), as Meta
asks of a webhook endpoint.

Pointing pywa at the simulator: pywa 4.5 has no setting for the Graph API's address. Its GraphAPI
class overwrites the base URL of the httpx client it is given (`session.base_url =
"https://graph.facebook.com/v{api_version}"`), so `httpx.Client(base_url=...)` does not survive.
What it keeps is the client's transport: the bot passes `session=httpx.Client(transport=ToSimulator(...))`,
a transport that sends every request pywa builds for https://graph.facebook.com/<path> to
WABENCH_GRAPH_URL/<path> instead (scheme, host, port and Host header rewritten; path, query, headers
and body untouched) and refuses any other host, so nothing can leave for the real Graph API. It uses
httpx's public transport API only and does not depend on pywa's internals.

`python3 pywa_bot.py --check` prints "ok" when pywa, Starlette and uvicorn import, else "SKIP <why>".
"""

import os
import signal
import sys
import threading

try:
    import httpx
    import starlette  # noqa: F401  (pywa's built-in server)
    import uvicorn  # noqa: F401
    from pywa import WhatsApp, filters
    from pywa.errors import WhatsAppError
    from pywa.types import Button, CallbackButton, Message, MessageStatus
except ImportError as e:
    print("SKIP", e, flush=True)
    sys.exit(0 if "--check" in sys.argv else 3)

if "--check" in sys.argv:
    print("ok", flush=True)
    sys.exit(0)

GRAPH_HOST = "graph.facebook.com"


class ToSimulator(httpx.BaseTransport):
    """Sends the requests pywa addresses to graph.facebook.com to `base` (the simulated Graph API)."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.host = httpx.URL(self.base).netloc.decode("ascii")
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != GRAPH_HOST:
            raise httpx.ConnectError(f"not the Graph API: {request.url}", request=request)
        request.url = httpx.URL(self.base + request.url.raw_path.decode("ascii"))
        request.headers["Host"] = self.host
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        print(f"pywa bot: {name} is not set", file=sys.stderr, flush=True)
        sys.exit(2)
    return value


host, _, port = env("WABENCH_BOT_LISTEN").rpartition(":")
path = env("WABENCH_WEBHOOK_PATH", "/webhook")
graph_url = env("WABENCH_GRAPH_URL")
version = env("WABENCH_API_VERSION", "v23.0").lstrip("v")

wa = WhatsApp(
    phone_id=env("WABENCH_PHONE_NUMBER_ID"),
    token=env("WABENCH_ACCESS_TOKEN"),
    session=httpx.Client(transport=ToSimulator(graph_url), timeout=30),
    api_version=version,
    server=None,  # pywa's own server, started by wa.run() below
    webhook_endpoint=path,
    verify_token=env("WABENCH_VERIFY_TOKEN"),
    app_secret=env("WABENCH_APP_SECRET"),  # pywa checks X-Hub-Signature-256 with it (401/403 otherwise)
    validate_updates=True,
)

counts = {"echo": 0, "menu": 0, "button": 0, "failed": 0, "statuses": 0}
lock = threading.Lock()


def count(key: str) -> None:
    with lock:
        counts[key] += 1


def send(kind: str, reply) -> None:
    try:
        reply()
        count(kind)
    except WhatsAppError as e:  # the API refused the reply (e.g. 131047 outside the window)
        count("failed")
        print(f"pywa bot: reply failed: {e.code} {e.message}", file=sys.stderr, flush=True)


@wa.on_message(filters.text & filters.matches("menu", ignore_case=True), priority=1)
def menu(_: WhatsApp, msg: Message) -> None:
    buttons = [Button("Orders", "orders"), Button("Support", "support"), Button("Slow path", "slow")]
    send("menu", lambda: msg.reply_text("How can we help?", buttons=buttons, quote=True))


@wa.on_message(filters.text)
def echo(_: WhatsApp, msg: Message) -> None:
    send("echo", lambda: msg.reply_text(f"echo: {msg.text}", quote=True))


@wa.on_callback_button
def chosen(_: WhatsApp, btn: CallbackButton) -> None:
    send("button", lambda: btn.reply_text(f"you chose {btn.data}", quote=True))


@wa.on_message_status
def status(_: WhatsApp, _s: MessageStatus) -> None:
    count("statuses")


# wabench stops the bot with SIGTERM: uvicorn stops gracefully (requests and their background
# replies finish), restores the handler it found and raises the signal again; this one ignores it,
# so wa.run() returns and the bot reports what it did.
signal.signal(signal.SIGTERM, lambda *_: None)
print(f"pywa bot listening on http://{host}:{port}{path}, replying through {graph_url}", flush=True)
wa.run(host=host, port=int(port), log_level="warning")
sent = counts["echo"] + counts["menu"] + counts["button"]
print(
    f"pywa bot stopped: {sent} replies sent ({counts['echo']} echo, {counts['menu']} menu, "
    f"{counts['button']} button), {counts['failed']} failed, {counts['statuses']} statuses read",
    flush=True,
)
