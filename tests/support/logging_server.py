"""A loopback HTTP server that logs every connection and request (headers and body).

Tests point the suite at it to prove that nothing was sent (a configuration error
exits before any request), or that credentials never reach it (it plays the foreign
origin a redirect leads to). Routes answer with a status, headers and a body.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: str

    def text(self) -> str:
        """Everything of the request, for "is this value in it" assertions."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method} {self.path}\n{head}\n\n{self.body}"


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass
class LoggingServer:
    """The running server: its URL, what it saw, and the routes it answers."""

    host: str
    port: int
    routes: dict[str, Route]
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def everything(self) -> str:
        """Every request it saw, as one text."""
        return "\n\n".join(r.text() for r in self.requests)


@contextmanager
def logging_server(
    host: str = "127.0.0.1", routes: dict[str, Route] | None = None
) -> Iterator[LoggingServer]:
    """Serve on a free loopback port for the block's duration."""
    state = LoggingServer(host=host, port=0, routes=routes or {})

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            state.requests.append(Seen(self.command, self.path, dict(self.headers), body))
            route = state.routes.get(self.path.split("?")[0], Route(404, body="not here"))
            payload = route.body.encode()
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def verify_request(self, request: Any, client_address: Any) -> bool:
            state.connections += 1
            return True

    bind = "127.0.0.1" if host == "localhost" else host
    server = Server((bind, 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
