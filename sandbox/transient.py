"""The transient faults: an intermittent 503 on /api/ and a slow first request per route.

They live in one app-wide dependency, which runs after routing, so the route template
(``/api/tenants/{tenant_id}``, not the concrete path) identifies "a kind of request".
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from sandbox.context import SandboxContext, get_sandbox

SLOW_START_S = 2.0
# Harness-facing routes: the e2e API is how tests turn these faults off again, and the
# runner's readiness probe must not eat a "first request".
EXEMPT_PREFIXES = ("/e2e/", "/_sandbox/")


class TransientFaultState:
    """Counters for the transient faults, reset each time a fault is turned on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api_requests = 0
        self._api_epoch: int | None = None
        self._seen_routes: set[tuple[str, str]] = set()
        self._slow_epoch: int | None = None

    def next_api_request_fails(self, epoch: int) -> bool:
        """The first /api/ request after the fault is turned on fails, then every third.

        Deterministic, so a test can predict it, and never two failures in a row, so one
        retry always gets through.
        """
        with self._lock:
            if epoch != self._api_epoch:
                self._api_epoch, self._api_requests = epoch, 0
            fails = self._api_requests % 3 == 0
            self._api_requests += 1
            return fails

    def first_of_its_kind(self, epoch: int, method: str, route: str) -> bool:
        with self._lock:
            if epoch != self._slow_epoch:
                self._slow_epoch, self._seen_routes = epoch, set()
            key = (method, route)
            if key in self._seen_routes:
                return False
            self._seen_routes.add(key)
            return True


async def transient_faults(
    request: Request, sandbox: Annotated[SandboxContext, Depends(get_sandbox)]
) -> None:
    """App-wide dependency applying transient.http_503 and transient.slow_start."""
    path = request.url.path
    if path.startswith(EXEMPT_PREFIXES):
        return
    state: TransientFaultState = request.app.state.transient_faults
    slow_epoch = sandbox.faults.activation("transient.slow_start")
    if slow_epoch is not None:
        route = getattr(request.scope.get("route"), "path", path)
        if state.first_of_its_kind(slow_epoch, request.method, route):
            await asyncio.sleep(SLOW_START_S)
    http_503_epoch = sandbox.faults.activation("transient.http_503")
    if (
        http_503_epoch is not None
        and path.startswith("/api/")
        and state.next_api_request_fails(http_503_epoch)
    ):
        raise HTTPException(503, "service temporarily unavailable", headers={"Retry-After": "1"})
