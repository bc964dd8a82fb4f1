"""The dashboard: per-tenant feed, alerts and history APIs, and the /app page."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from sandbox import pages
from sandbox.auth import SESSION_COOKIE, User, dashboard_user, user_from_token
from sandbox.context import SandboxContext, get_sandbox

Sandbox = Annotated[SandboxContext, Depends(get_sandbox)]
DashboardUser = Annotated[User, Depends(dashboard_user)]
Page = Annotated[int, Query(ge=1, description="1-based page number")]
PerPage = Annotated[int, Query(ge=1, le=100, description="items per page, at most 100")]

SLOW_FEED_S = 3.0
SEVERITY_CODES = {"info": 0, "warning": 1, "critical": 2}

_QUERIES = {
    "feed": (
        "SELECT id, type, title, created_at FROM feed_items WHERE tenant_id = ?"
        " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        "SELECT count(*) FROM feed_items WHERE tenant_id = ?",
    ),
    "alerts": (
        "SELECT id, severity, message, acknowledged, created_at FROM alerts"
        " WHERE tenant_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        "SELECT count(*) FROM alerts WHERE tenant_id = ?",
    ),
    "history": (
        "SELECT id, date, metric, value FROM history WHERE tenant_id = ?"
        " ORDER BY date DESC, metric, id LIMIT ? OFFSET ?",
        "SELECT count(*) FROM history WHERE tenant_id = ?",
    ),
}


def _page_of(
    sandbox: SandboxContext, kind: str, tenant_id: str | None, page: int, per_page: int
) -> dict[str, Any]:
    rows_sql, count_sql = _QUERIES[kind]
    rows = sandbox.db.query(rows_sql, (tenant_id, per_page, (page - 1) * per_page))
    total = int(sandbox.db.scalar(count_sql, (tenant_id,)) or 0)
    return {
        "items": [dict(row) for row in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
    }


router = APIRouter(prefix="/api/dashboard")


@router.get("/feed")
async def feed(
    user: DashboardUser, sandbox: Sandbox, page: Page = 1, per_page: PerPage = 20
) -> dict[str, Any]:
    if sandbox.is_on("dashboard.slow"):
        await asyncio.sleep(SLOW_FEED_S)
    if sandbox.is_on("dashboard.feed_500"):
        raise HTTPException(500, "internal error while loading the feed")
    if sandbox.is_on("dashboard.empty"):
        return {"items": [], "page": page, "per_page": per_page, "total": 0}
    return await run_in_threadpool(_page_of, sandbox, "feed", user.tenant_id, page, per_page)


@router.get("/alerts")
def alerts(
    user: DashboardUser, sandbox: Sandbox, page: Page = 1, per_page: PerPage = 20
) -> dict[str, Any]:
    result = _page_of(sandbox, "alerts", user.tenant_id, page, per_page)
    drift = sandbox.is_on("dashboard.alerts_contract_drift")
    for item in result["items"]:
        item["acknowledged"] = bool(item["acknowledged"])
        if drift:
            item["severity"] = SEVERITY_CODES[item["severity"]]
    return result


@router.get("/history")
def history(
    user: DashboardUser, sandbox: Sandbox, page: Page = 1, per_page: PerPage = 20
) -> dict[str, Any]:
    return _page_of(sandbox, "history", user.tenant_id, page, per_page)


pages_router = APIRouter()


@pages_router.get("/app", response_class=HTMLResponse, response_model=None)
def app_page(request: Request, sandbox: Sandbox) -> HTMLResponse | RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    try:
        if token is None:
            raise HTTPException(401)
        user_from_token(sandbox, token)
    except HTTPException:
        return RedirectResponse("/login", status_code=302)
    return HTMLResponse(
        pages.dashboard_page(
            js_error=sandbox.is_on("dashboard.ui_js_error"),
            failed_request=sandbox.is_on("dashboard.ui_failed_request"),
        )
    )
