"""A local stand-in for Slack: chat.postMessage, incoming webhooks, and ways to fail.

Speaks enough of the Slack Web API for slack_sdk's ``WebClient(base_url=...)`` and
``WebhookClient(url)``: ``POST /api/chat.postMessage`` (JSON or form body, ``Authorization:
Bearer xoxb-...``) and ``POST /services/...`` (an incoming webhook, answers ``ok``). Every
request is recorded (path, headers, parsed body) for assertions. Failure modes, for the
next N requests: 429 with ``Retry-After``, 500; or stop listening altogether.

Standalone, for a manual demo::

    python -m tests.support.slack_server --port 0
    SMOKE_SLACK_API_URL=<printed url>/api/ SMOKE_SLACK_TOKEN=xoxb-demo \
        SMOKE_SLACK_CHANNEL='#smoke' smoke demo --fault dashboard.feed_500
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

API_PREFIX = "/api/"
WEBHOOK_PREFIX = "/services/"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON or form fields, else the text
    raw: bytes
    status: int  # what the server answered
    accepted: bool  # the message was posted (a 200 can still be {"ok": false})

    @property
    def text(self) -> str:
        """The message's ``text`` field, when the body has one."""
        return str(self.body.get("text", "")) if isinstance(self.body, dict) else ""


@dataclass
class _Faults:
    rate_limited: int = 0
    retry_after: int = 1
    server_errors: int = 0


@dataclass
class FakeSlack:
    """The server; ``with FakeSlack() as slack:`` starts and stops it on a free port."""

    host: str = "127.0.0.1"
    port: int = 0
    token_prefix: str = "xoxb-"
    on_message: Callable[[RecordedRequest], None] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    _faults: _Faults = field(default_factory=_Faults)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _ts: int = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL, for ``WebClient(base_url=...)`` or SMOKE_SLACK_API_URL."""
        return self.url + API_PREFIX

    def webhook_url(self, secret: str = "T000/B000/XXXXXXXX") -> str:
        """An incoming-webhook URL on this server."""
        return f"{self.url}{WEBHOOK_PREFIX}{secret}"

    def start(self) -> FakeSlack:
        """Listen (again, on the same port when it had one) and serve in a thread."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop_listening(self) -> None:
        """Close the socket: clients now get connection refused. ``start()`` brings it back."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    stop = stop_listening

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop_listening()

    def reset(self) -> None:
        """Forget recorded requests and failure modes (between tests)."""
        with self._lock:
            self.requests.clear()
            self._faults = _Faults()

    def rate_limit(self, times: int, retry_after: int = 1) -> None:
        """Answer the next ``times`` requests with 429 and ``Retry-After: retry_after``."""
        with self._lock:
            self._faults.rate_limited = times
            self._faults.retry_after = retry_after

    def fail(self, times: int) -> None:
        """Answer the next ``times`` requests with 500."""
        with self._lock:
            self._faults.server_errors = times

    def messages(self) -> list[RecordedRequest]:
        """The requests that posted a message."""
        with self._lock:
            return [r for r in self.requests if r.accepted]

    def _next_fault(self) -> tuple[int, int] | None:
        """(status, retry_after) for a request that should fail, consuming it."""
        with self._lock:
            if self._faults.rate_limited > 0:
                self._faults.rate_limited -= 1
                return 429, self._faults.retry_after
            if self._faults.server_errors > 0:
                self._faults.server_errors -= 1
                return 500, 0
            return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
        if request.accepted and self.on_message is not None:
            self.on_message(request)

    def _next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"{1_700_000_000 + self._ts}.{self._ts:06d}"


def _handler_for(slack: FakeSlack) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - one branch per Slack Web API method the fake answers
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = _parse_body(raw, headers.get("content-type", ""))
            status, reply, extra = self._answer(headers, body)
            ok = reply == "ok" or (isinstance(reply, dict) and reply.get("ok") is True)
            slack._record(
                RecordedRequest(
                    method="POST",
                    path=self.path,
                    headers=headers,
                    body=body,
                    raw=raw,
                    status=status,
                    accepted=status == 200 and ok,
                )
            )
            self._send(status, reply, extra)

        def do_GET(self) -> None:
            self._send(404, {"ok": False, "error": "unknown_method"}, {})

        def _answer(
            self, headers: dict[str, str], body: Any
        ) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
            fault = slack._next_fault()
            if fault is not None:
                status, retry_after = fault
                if status == 429:
                    return (
                        429,
                        {"ok": False, "error": "ratelimited"},
                        {"Retry-After": str(retry_after)},
                    )
                return 500, "Internal Server Error", {}
            if self.path.startswith(WEBHOOK_PREFIX):
                if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
                    return 400, "no_text", {}
                return 200, "ok", {}
            if self.path.split("?")[0] == API_PREFIX + "chat.postMessage":
                return self._post_message(headers, body)
            return 404, {"ok": False, "error": "unknown_method"}, {}

        def _post_message(
            self, headers: dict[str, str], body: Any
        ) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
            auth = headers.get("authorization", "")
            token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
            if not token:
                return 200, {"ok": False, "error": "not_authed"}, {}
            if not token.startswith(slack.token_prefix):
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            if not isinstance(body, dict) or not body.get("channel"):
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            if not (body.get("text") or body.get("blocks")):
                return 200, {"ok": False, "error": "no_text"}, {}
            ts = slack._next_ts()
            message = {"type": "message", "text": body.get("text", ""), "ts": ts}
            return 200, {"ok": True, "channel": body["channel"], "ts": ts, "message": message}, {}

        def _send(self, status: int, reply: dict[str, Any] | str, extra: dict[str, str]) -> None:
            if isinstance(reply, dict):
                data, ctype = json.dumps(reply).encode(), "application/json; charset=utf-8"
            else:
                data, ctype = reply.encode(), "text/html"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the recorded requests are the log

    return Handler


def _parse_body(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "application/json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "application/x-www-form-urlencoded" in content_type:
        fields: dict[str, Any] = {k: v[-1] for k, v in parse_qs(text).items()}
        # Form posts carry blocks as a JSON string.
        if isinstance(fields.get("blocks"), str):
            with suppress(ValueError):
                fields["blocks"] = json.loads(fields["blocks"])
        return fields
    return text


@contextmanager
def running(**kw: Any) -> Iterator[FakeSlack]:
    """A started FakeSlack, stopped on exit."""
    with FakeSlack(**kw) as slack:
        yield slack


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)

    def show(request: RecordedRequest) -> None:
        where = request.body.get("channel", "webhook") if isinstance(request.body, dict) else ""
        print(f"[{request.path}] {where}: {request.text}", flush=True)

    slack = FakeSlack(host=args.host, port=args.port, on_message=show).start()
    print(f"fake Slack listening on {slack.url}", flush=True)
    print(f"  SMOKE_SLACK_API_URL={slack.api_url}", flush=True)
    print(f"  incoming webhook: {slack.webhook_url()}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        slack.stop_listening()


if __name__ == "__main__":
    main()
