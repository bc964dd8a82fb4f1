"""The e2e API: what a smoke suite needs to prepare and inspect the sandbox.

Every route needs the ``X-E2E-Test-Token`` header and is rate-limited per client.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel

from sandbox import cleanup as cleanup_module
from sandbox.context import SandboxContext, get_sandbox
from sandbox.faults import FAULTS
from sandbox.security import same_secret
from sandbox.seed import TEST_TENANT_ID, seed_tier

TOKEN_HEADER = "X-E2E-Test-Token"
RATE_LIMIT = 120
RATE_WINDOW_S = 10.0

Sandbox = Annotated[SandboxContext, Depends(get_sandbox)]


class RateLimiter:
    """A sliding window of request times per client."""

    def __init__(self, limit: int = RATE_LIMIT, window_s: float = RATE_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> int | None:
        """Record one request; None if allowed, else the seconds to wait before retrying."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window_s - now))
            hits.append(now)
            return None


def require_e2e_access(request: Request, sandbox: Sandbox) -> None:
    """Dependency: rate limit first (wrong tokens count too), then the token."""
    limiter: RateLimiter = request.app.state.e2e_rate_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(client)
    if wait is not None:
        raise HTTPException(
            429,
            f"too many e2e requests: at most {RATE_LIMIT} in {RATE_WINDOW_S:g} s per client",
            headers={"Retry-After": str(wait)},
        )
    if sandbox.is_on("e2e.token_ignored"):
        return
    if not same_secret(request.headers.get(TOKEN_HEADER), sandbox.credentials.e2e_token):
        raise HTTPException(403, f"missing or wrong {TOKEN_HEADER} header")


class SeedBody(BaseModel):
    tier: Literal["smoke", "dev", "perf"]


class FaultBody(BaseModel):
    name: str
    enabled: bool


router = APIRouter(prefix="/e2e", dependencies=[Depends(require_e2e_access)])


@router.get("/status")
def status(sandbox: Sandbox) -> dict[str, Any]:
    mode = "live" if sandbox.is_on("billing.live_mode") else sandbox.credentials.stripe_mode
    tenant_exists = sandbox.db.scalar("SELECT 1 FROM tenants WHERE id = ?", (TEST_TENANT_ID,))
    user_exists = sandbox.db.scalar(
        "SELECT 1 FROM users WHERE email = ?", (sandbox.credentials.test_email,)
    )
    return {
        "stripe_mode": mode,
        "test_tenant_exists": bool(tenant_exists and user_exists),
        "test_identity": sandbox.credentials.test_email,
        "faults": sandbox.faults.enabled(),
    }


class CleanupBody(BaseModel):
    email: str | None = None


@router.post("/cleanup")
def cleanup(sandbox: Sandbox, body: Annotated[CleanupBody | None, Body()] = None) -> dict[str, Any]:
    try:
        result = cleanup_module.clean_reserved_identities(sandbox, body.email if body else None)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"deleted": result.deleted, "canceled_subscriptions": result.canceled_subscriptions}


@router.post("/seed")
def seed(body: SeedBody, sandbox: Sandbox) -> dict[str, Any]:
    result = seed_tier(sandbox.db, body.tier)
    return {"tier": result.tier, "tenants": result.tenants, "records": result.records}


@router.get("/inbox")
def inbox(sandbox: Sandbox, to: str | None = None) -> dict[str, Any]:
    return {"messages": [message.to_json() for message in sandbox.mail.inbox.messages(to)]}


@router.get("/faults")
def list_faults(sandbox: Sandbox) -> dict[str, Any]:
    enabled = set(sandbox.faults.enabled())
    return {
        "faults": [
            {"name": name, "description": description, "enabled": name in enabled}
            for name, description in FAULTS.items()
        ]
    }


@router.post("/faults")
def set_fault(body: FaultBody, sandbox: Sandbox) -> dict[str, Any]:
    try:
        sandbox.faults.set(body.name, body.enabled)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"name": body.name, "enabled": body.enabled, "faults": sandbox.faults.enabled()}
