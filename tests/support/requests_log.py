"""Record every request the suite sends through httpx, to prove what it wrote."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def record_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every request sent through ``httpx.AsyncClient`` from now on, as ``METHOD URL``."""
    sent: list[str] = []
    real_send = httpx.AsyncClient.send

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        sent.append(f"{request.method} {request.url}")
        return await real_send(self, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", send)
    return sent


def to_target(sent: list[str], base_url: str) -> list[tuple[str, str]]:
    """The recorded requests that went to the target at ``base_url``, as (method, url)."""
    pairs = [tuple(line.split(" ", 1)) for line in sent]
    return [(method, url) for method, url in pairs if url.startswith(base_url)]


def writes_beyond_login(sent: list[str], base_url: str) -> list[str]:
    """Requests to the target other than reads and the identity provider's token call."""
    return [
        f"{method} {url}"
        for method, url in to_target(sent, base_url)
        if method not in ("GET", "HEAD") and not url.startswith(f"{base_url}/idp/token")
    ]
