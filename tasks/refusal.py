"""Refusal checks every journey ends with: strangers must not get what an identity got.

Every request the journey sent as an identity and got a 2xx for (``ctx.authenticated``,
filled by ``tasks.http.send``) is replayed twice: without credentials, and with the
same credential tampered. No fixed route list to keep up to date: a route the journeys
reach is a route these checks prove. A request marked ``public: true`` is left out.
"""

from __future__ import annotations

import asyncio
from typing import Any

from smoke.contracts import as_json
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from tasks.checks import every_journey_check as check
from tasks.http import ProbeTarget, Reply, exchange, send
from tasks.journey import JourneyContext
from tasks.signin import Credentials

REFUSED = [401, 403]
# At most this many replays in flight at once: a journey can have reached dozens of routes.
CONCURRENCY = 8


def _targets(ctx: JourneyContext[Any]) -> list[ProbeTarget]:
    """The proven requests, or a skip saying why there are none."""
    targets = list(ctx.authenticated.values())
    if targets:
        return targets
    if ctx.signin_failures:
        raise CheckSkipped(
            "no request reached a signed-in identity: "
            + "; ".join(sorted(set(ctx.signin_failures.values()))),
            kind="prerequisite",
        )
    raise CheckSkipped(
        "this journey sent no request that a signed-in identity got a 2xx answer for",
        kind="not_applicable",
    )


async def prove_protected_routes(ctx: JourneyContext[Any]) -> list[str]:
    """GET each configured protected route as the test identity; the ones that are not 2xx.

    A route the test identity cannot read proves nothing about strangers, so it is not
    counted; the caller names it in the result.
    """
    from smoke.spec import Request

    routes = ctx.suite.auth.protected_routes
    replies = await asyncio.gather(*(send(ctx, Request(path=r), auth="test") for r in routes))
    return [f"{r.path} ({r.status})" for r in replies if not r.ok]


async def _replay(
    ctx: JourneyContext[Any],
    target: ProbeTarget,
    creds: Credentials | None,
    gate: asyncio.Semaphore,
) -> Reply:
    async with gate:
        return await exchange(ctx, target.prepared, REFUSED, creds)


async def _refused_everywhere(ctx: JourneyContext[Any], tampered: bool) -> Passed:
    unproven: list[str] = []
    if ctx.journey == "auth" and ctx.suite.auth.protected_routes:
        unproven = await prove_protected_routes(ctx)
    targets = _targets(ctx)
    gate = asyncio.Semaphore(CONCURRENCY)
    replies = await asyncio.gather(
        *(_replay(ctx, t, t.credentials.tampered() if tampered else None, gate) for t in targets)
    )
    who = "a tampered credential" if tampered else "anonymous callers"
    opened = [(t, r) for t, r in zip(targets, replies, strict=True) if r.status not in REFUSED]
    if opened:
        worst = opened[0][1]
        listed = ", ".join(f"{t.prepared.route} -> {r.status}" for t, r in opened)
        raise CheckFailed(
            f"{len(opened)} of {len(targets)} route(s) that answered a signed-in identity "
            f"also answer {who}: {listed}",
            expected=f"status 401 or 403 for {who} on every route an identity reached",
            actual=f"{listed}; first body: {worst.excerpt()}",
            evidence=[worst.evidence()],
        )
    note = (
        f"; not counted (the test identity got no 2xx): {', '.join(unproven)}" if unproven else ""
    )
    return Passed(
        expected=f"401/403 for {who} on every route a signed-in identity reached",
        actual=f"{len(targets)} route(s) proven 2xx for their identity, all refused to {who}",
        message=f"routes: {as_json(sorted({t.prepared.route for t in targets}), 300)}{note}",
    )


@check("anonymous_refused")
async def anonymous_refused(ctx: JourneyContext[Any]) -> Passed:
    """Invariant: every route this journey got a 2xx for as an identity refuses a caller
    without credentials (401/403).

    Each route counts only once it has answered its identity with 2xx in this run; the
    configured ``auth.protected_routes`` are proven that way first (auth journey).
    """
    return await _refused_everywhere(ctx, tampered=False)


@check("bad_token_refused")
async def bad_token_refused(ctx: JourneyContext[Any]) -> Passed:
    """Invariant: every route this journey got a 2xx for as an identity refuses that same
    identity's credential tampered (a forged JWT signature, a wrong password, an altered
    key or cookie) with 401/403.
    """
    return await _refused_everywhere(ctx, tampered=True)
