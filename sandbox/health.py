"""Health (public, fault-aware) and readiness (internal, for the runner)."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from sandbox.context import SandboxContext, get_sandbox
from sandbox.stripe_gateway import PLANS

Sandbox = Annotated[SandboxContext, Depends(get_sandbox)]


def previous_version(version: str) -> str:
    """The release before ``version``: 1.4.2 → 1.4.1; otherwise ``<version>-previous``."""
    match = re.fullmatch(r"(.*?)(\d+)", version)
    if match and int(match.group(2)) > 0:
        return f"{match.group(1)}{int(match.group(2)) - 1}"
    return f"{version}-previous"


async def _stripe_answers(sandbox: SandboxContext, http: httpx.AsyncClient) -> bool:
    try:
        response = await http.get(
            f"{sandbox.stripe.api_base}/v1/plans/{PLANS[0].id}",
            headers={"Authorization": f"Bearer {sandbox.credentials.stripe_secret_key}"},
            timeout=2.0,
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def health_report(
    sandbox: SandboxContext, http: httpx.AsyncClient
) -> tuple[int, dict[str, Any]]:
    """(status code, body) of ``GET /health``."""
    database_ok = not sandbox.is_on("health.down") and await run_in_threadpool(sandbox.db.ping)
    dependencies = {
        "database": "ok" if database_ok else "down",
        "stripe": "ok" if await _stripe_answers(sandbox, http) else "down",
        "mail": "ok" if sandbox.mail.is_running() else "down",
    }
    healthy = all(value == "ok" for value in dependencies.values())
    version = sandbox.version
    if sandbox.is_on("version.stale"):
        version = previous_version(version)
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "version": version,
        "dependencies": dependencies,
    }
    return (200 if healthy else 503), body


router = APIRouter()


@router.get("/health")
async def health(request: Request, sandbox: Sandbox) -> JSONResponse:
    code, body = await health_report(sandbox, request.app.state.http)
    return JSONResponse(body, code)


@router.get("/_sandbox/ready", include_in_schema=False)
def ready(sandbox: Sandbox) -> dict[str, Any]:
    """For the runner: answers once startup is complete; never affected by faults."""
    return {
        "ready": True,
        "pid": os.getpid(),
        "version": sandbox.version,
        "base_url": sandbox.public_base_url,
        "stripe_api_base": sandbox.stripe.api_base,
        "smtp": sandbox.mail.address,
        "localstripe_pid": sandbox.localstripe_pid,
        "faults": sandbox.faults.enabled(),
    }
