"""Refusal checks every journey ends with: strangers must not get what an identity got.

Every request the journey sent as an identity and got a 2xx for (``ctx.authenticated``,
filled by ``tasks.http.send``) is replayed twice: without credentials, and with the
same credential tampered. No fixed route list to keep up to date: a route the journeys
reach is a route these checks prove. A request marked ``public: true`` is left out.
The auth journey adds the contract's ``protected_routes`` and ``protected_pages``, each
proven for the test identity first.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from smoke.auth_rules import page_refusal
from smoke.contracts import as_json
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.spec import ProtectedPage, Request
from tasks.checks import every_journey_check as check
from tasks.exchange import exchange
from tasks.http import send
from tasks.journey import JourneyContext
from tasks.signin import credentials, page_credentials
from tasks.wire import Credentials, Prepared, ProbeTarget, Reply

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
    routes = ctx.suite.auth.protected_routes
    replies = await asyncio.gather(*(send(ctx, Request(path=r), auth="test") for r in routes))
    return [f"{r.path} ({r.status})" for r in replies if not r.ok]


@dataclass(frozen=True)
class PageTarget:
    """A protected page the test identity opened (2xx) with ``credentials``."""

    page: ProtectedPage
    prepared: Prepared
    credentials: Credentials


async def prove_protected_pages(ctx: JourneyContext[Any]) -> tuple[list[PageTarget], list[str]]:
    """Open each configured protected page as the test identity (redirects not followed).

    Returns the pages that answered 2xx, and the ones that did not (not counted, named
    in the result like an unproven route).
    """
    pages = ctx.suite.auth.protected_pages
    creds = await credentials(ctx, "test") if pages else None
    if creds is None:
        return [], []
    proven: list[PageTarget] = []
    unproven: list[str] = []
    for page in pages:
        prepared = Prepared("GET", page.path, None, {}, None, "json")
        as_test = page_credentials(creds, page.session_cookie)
        reply = await exchange(ctx, prepared, [200], as_test)
        if reply.ok:
            proven.append(PageTarget(page, prepared, as_test))
        else:
            unproven.append(f"{page.path} ({reply.status})")
    return proven, unproven


def _page_opened(target: PageTarget, reply: Reply) -> bool:
    """Whether a page showed itself to a caller it should have refused."""
    page = target.page
    location = reply.headers.get("location", "")
    return not page_refusal(reply.status, location, page.path, page.login_redirect)


async def _replay(
    ctx: JourneyContext[Any],
    prepared: Prepared,
    creds: Credentials | None,
    gate: asyncio.Semaphore,
) -> Reply:
    async with gate:
        return await exchange(ctx, prepared, REFUSED, creds)


async def _refused_everywhere(ctx: JourneyContext[Any], tampered: bool) -> Passed:
    unproven: list[str] = []
    pages: list[PageTarget] = []
    if ctx.journey == "auth":
        if ctx.suite.auth.protected_routes:
            unproven = await prove_protected_routes(ctx)
        pages, unproven_pages = await prove_protected_pages(ctx)
        unproven += unproven_pages
    targets = list(ctx.authenticated.values()) if pages else _targets(ctx)
    gate = asyncio.Semaphore(CONCURRENCY)

    def as_caller(creds: Credentials) -> Credentials | None:
        return creds.tampered() if tampered else None

    replies, page_replies = await asyncio.gather(
        asyncio.gather(
            *(_replay(ctx, t.prepared, as_caller(t.credentials), gate) for t in targets)
        ),
        asyncio.gather(*(_replay(ctx, p.prepared, as_caller(p.credentials), gate) for p in pages)),
    )
    who = "a tampered credential" if tampered else "anonymous callers"
    opened = [
        (t.prepared.route, r)
        for t, r in zip(targets, replies, strict=True)
        if r.status not in REFUSED
    ]
    opened += [
        (f"page {p.prepared.route}", r)
        for p, r in zip(pages, page_replies, strict=True)
        if _page_opened(p, r)
    ]
    total = len(targets) + len(pages)
    if opened:
        worst = opened[0][1]
        listed = ", ".join(f"{route} -> {r.status}" for route, r in opened)
        raise CheckFailed(
            f"{len(opened)} of {total} route(s) that answered a signed-in identity "
            f"also answer {who}: {listed}",
            expected=f"status 401 or 403 for {who} on every route an identity reached"
            + (", or a redirect to the sign-in on a page" if pages else ""),
            actual=f"{listed}; first body: {worst.excerpt()}",
            evidence=[worst.evidence()],
        )
    note = (
        f"; not counted (the test identity got no 2xx): {', '.join(unproven)}" if unproven else ""
    )
    routes = sorted({t.prepared.route for t in targets} | {f"page {p.page.path}" for p in pages})
    return Passed(
        expected=f"401/403 for {who} on every route a signed-in identity reached"
        + (" (or a redirect to the sign-in on a page)" if pages else ""),
        actual=f"{total} route(s) proven 2xx for their identity, all refused to {who}",
        message=f"routes: {as_json(routes, 300)}{note}",
    )


@check("anonymous_refused")
async def anonymous_refused(ctx: JourneyContext[Any]) -> Passed:
    """Invariant: every route this journey got a 2xx for as an identity refuses a caller
    without credentials (401/403).

    Each route counts only once it has answered its identity with 2xx in this run; the
    configured ``auth.protected_routes`` are proven that way first (auth journey). Each
    configured ``auth.protected_pages`` page, opened by the test identity first (2xx),
    must answer an anonymous visitor 401/403 or a redirect to the sign-in
    (``login_redirect``), never the page.
    """
    return await _refused_everywhere(ctx, tampered=False)


@check("bad_token_refused")
async def bad_token_refused(ctx: JourneyContext[Any]) -> Passed:
    """Invariant: every route this journey got a 2xx for as an identity refuses that same
    identity's credential tampered (a forged JWT signature, a wrong password, an altered
    key or cookie) with 401/403; each protected page the test identity opened refuses
    its session tampered the same way as an anonymous visitor (auth journey).
    """
    return await _refused_everywhere(ctx, tampered=True)
