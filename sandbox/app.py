"""``create_app``: the FastAPI application over a prepared ``SandboxContext``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse, Response

from sandbox import auth, billing, dashboard, e2e, health, idp, onboarding, passkeys
from sandbox.context import SandboxContext
from sandbox.transient import TransientFaultState, transient_faults


def create_app(sandbox: SandboxContext) -> FastAPI:
    """The sandbox app; ``sandbox`` already holds a database, IdP, Stripe and mail."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sandbox.loop = asyncio.get_running_loop()
        async with httpx.AsyncClient() as http:
            app.state.http = http
            yield

    app = FastAPI(
        title="Smoke sandbox",
        version=sandbox.version,
        lifespan=lifespan,
        dependencies=[Depends(transient_faults)],
    )
    app.state.sandbox = sandbox
    app.state.e2e_rate_limiter = e2e.RateLimiter()
    app.state.transient_faults = TransientFaultState()

    for router in (
        health.router,
        idp.router,
        auth.router,
        passkeys.router,
        passkeys.pages_router,
        onboarding.router,
        onboarding.pages_router,
        billing.router,
        billing.pages_router,
        dashboard.router,
        dashboard.pages_router,
        e2e.router,
    ):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/app", status_code=302)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        # Pages declare an inline icon; this covers clients that ask anyway.
        return Response(status_code=204)

    return app
