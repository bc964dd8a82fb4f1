"""What goes on the wire: a prepared request, the credentials it carries, the answer.

Plain data with no journey context, so every layer can name it: ``tasks.journey`` keeps
credentials and replayable requests, ``tasks.exchange`` sends, ``tasks.signin`` signs in.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from smoke.contracts import excerpt
from smoke.results import Evidence
from smoke.spec import Identity, Request


@dataclass(frozen=True)
class Credentials:
    """What authenticates a request as one identity."""

    who: Identity
    scheme: str  # bearer | basic | api_key | cookie
    headers: dict[str, str]
    token: str | None = None  # the bearer token, for browser checks that set it as a cookie
    cookies: dict[str, str] = field(default_factory=dict)

    def tampered(self) -> Credentials:
        """The same credential with its secret part altered: it must be refused."""
        if self.scheme == "basic":
            user, _, password = _basic_parts(self.headers["Authorization"])
            return replace(self, headers={"Authorization": basic_header(user, altered(password))})
        if self.scheme == "cookie":
            cookies = {k: altered(v) for k, v in self.cookies.items()}
            return replace(self, headers={"Cookie": cookie_header(cookies)}, cookies=cookies)
        headers = {k: _alter_header(k, v) for k, v in self.headers.items()}
        token = altered(self.token) if self.token else None
        return replace(self, headers=headers, token=token)


def altered(value: str) -> str:
    """A JWT with a signature that does not match its claims; anything else changed at its end."""
    parts = value.split(".")
    if len(parts) == 3 and all(parts):
        forged = base64.urlsafe_b64encode(secrets.token_bytes(256)).rstrip(b"=").decode()
        return ".".join([parts[0], parts[1], forged])
    tail = secrets.token_hex(4)
    return (value[:-8] if len(value) > 16 else value) + tail


def _alter_header(name: str, value: str) -> str:
    scheme, sep, token = value.partition(" ")
    if name.lower() == "authorization" and sep:
        return f"{scheme} {altered(token)}"
    return altered(value)


def basic_header(user: str, password: str) -> str:
    """``Basic <base64(user:password)>``."""
    raw = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _basic_parts(header: str) -> tuple[str, str, str]:
    return base64.b64decode(header.split(" ", 1)[1]).decode().partition(":")


def cookie_header(cookies: dict[str, str]) -> str:
    """A ``Cookie`` header value."""
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


@dataclass
class Reply:
    """What came back: status, parsed body (or text), latency."""

    method: str
    path: str
    status: int
    body: Any
    text: str
    elapsed_ms: int
    headers: dict[str, str]
    is_json: bool = False
    set_cookie: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300

    def excerpt(self) -> str:
        """A short excerpt of the body for messages and evidence."""
        return excerpt(self.body if self.is_json else self.text, 300)

    def evidence(self, label: str | None = None) -> Evidence:
        """The response as evidence."""
        return Evidence(
            kind="response",
            label=label or f"{self.method} {self.path} -> {self.status}",
            excerpt=self.excerpt(),
        )


@dataclass(frozen=True)
class Prepared:
    """A request with every placeholder filled: what goes on the wire, credentials aside."""

    method: str
    path: str
    params: dict[str, Any] | None
    headers: dict[str, str]
    body: Any
    body_format: str

    @property
    def route(self) -> str:
        """Method and path without the query, as messages name a request."""
        return f"{self.method} {self.path.split('?')[0]}"


@dataclass(frozen=True)
class ProbeTarget:
    """A request an identity got a 2xx for, kept for the refusal checks to replay."""

    prepared: Prepared
    request: Request
    credentials: Credentials
