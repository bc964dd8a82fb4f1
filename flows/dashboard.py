"""Dashboard journey: the feed, alerts and history APIs and the dashboard page."""

from __future__ import annotations

import asyncio

from prefect import State, flow

from smoke.contracts import as_json
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.results import Evidence, JourneyResult
from smoke.retry import TransientError
from smoke.spec import DashboardSpec, Endpoint
from tasks.browser import ACTION_TIMEOUT_MS, PageWatch, appeared, settle, traced_page
from tasks.checks import journey_checks, journey_outcome, run_check
from tasks.context import open_journey
from tasks.http import expect, field_of, send, session_token
from tasks.journey import JourneyContext
from tasks.sequences import journey_frame

JOURNEY = "dashboard"
check = journey_checks(JOURNEY)
Ctx = JourneyContext[DashboardSpec]
# As long as any browser action may take: a busy runner renders a healthy page slowly.
READY_TIMEOUT_MS = ACTION_TIMEOUT_MS


@check("endpoint")
async def endpoint_answers(ctx: Ctx, endpoint: Endpoint) -> Passed:
    """Run once per configured endpoint, named after it (``dashboard.feed``).

    Invariant: the endpoint answers the test identity (by default) with an expected
    status, its whole body matches the contract, and ``items_field`` holds at least one
    item for the seeded test tenant; timed against the latency budget."""
    reply = await send(ctx, endpoint, auth="test")
    expect(reply, endpoint, endpoint.name)
    items = field_of(reply, endpoint.items_field, endpoint.name)
    if not items:
        raise CheckFailed(
            f"{endpoint.name} is empty for the seeded test tenant",
            expected=f"at least one item in {endpoint.items_field!r}",
            actual=f"{endpoint.items_field} = {as_json(items)}",
            evidence=[reply.evidence()],
        )
    return Passed(
        expected=f"status {reply.status}, contract, non-empty",
        actual=f"{len(items)} items in {reply.elapsed_ms} ms",
        elapsed_ms=reply.elapsed_ms,
    )


@check("ui")
async def ui(ctx: Ctx) -> Passed:
    """Invariant: the dashboard page, opened as the test identity, loads, becomes ready,
    shows every key element, logs no console error and has no failed request."""
    spec = ctx.spec.ui
    if spec is None:
        raise CheckSkipped("no dashboard page configured", kind="not_applicable")
    token = await session_token(ctx)
    async with traced_page(ctx) as page:
        if spec.session_cookie:
            await page.context.add_cookies(
                [{"name": spec.session_cookie, "value": token, "url": ctx.config.base_url}]
            )
        watch = PageWatch(page)
        response = await page.goto(spec.path, wait_until="load")
        if response is None or response.status >= 400:
            raise CheckFailed(
                f"the dashboard page {spec.path} did not load",
                expected="status 200",
                actual=f"status {response.status if response else 'none'}",
            )
        problems = []
        if spec.ready_selector and not await appeared(page, spec.ready_selector, READY_TIMEOUT_MS):
            # The page loaded but never finished rendering: a product failure, not a
            # transient one, so it is judged now rather than retried.
            problems.append(
                f"never became ready ({spec.ready_selector} within {READY_TIMEOUT_MS} ms)"
            )
        missing = [sel for sel in spec.elements if await page.locator(sel).count() == 0]
        await settle(page)
        if missing:
            problems.append(f"missing elements: {', '.join(missing)}")
        if watch.console_errors:
            problems.append(f"console errors: {'; '.join(watch.console_errors[:3])}")
        if watch.failed_requests:
            problems.append(f"failed requests: {'; '.join(watch.failed_requests[:3])}")
        if problems and watch.transient:
            # The page was hit by transient faults it did not recover from: retry it.
            raise TransientError(
                f"the dashboard page did not recover from {'; '.join(watch.transient[:3])}"
            )
        if problems:
            raise CheckFailed(
                f"the dashboard page {spec.path} is broken: {problems[0]}",
                expected=f"{len(spec.elements)} key elements, no console errors, no failed requests",
                actual="; ".join(problems),
                evidence=[
                    Evidence(kind="log", label="page problems", excerpt="\n".join(problems)[:800])
                ],
            )
    return Passed(
        expected=f"{len(spec.elements)} key elements, no console errors, no failed requests",
        actual="all present, clean console",
    )


@flow(name="dashboard", flow_run_name="dashboard-{environment}", persist_result=False)
async def dashboard(environment: str = "sandbox") -> State[JourneyResult]:
    """Feed, alerts and history APIs (status, contract, latency, data) and the page.

    Args:
        environment: The environment to test: a SmokeEnvironment block's name. `sandbox`
            starts a local sandbox for this run and stops it afterwards.
    """
    async with open_journey(JOURNEY, environment, DashboardSpec) as ctx:
        spec = ctx.spec
        names = [e.name for e in spec.endpoints] + ["ui"]
        async with journey_frame(ctx, names) as ready:
            if ready:
                await asyncio.gather(
                    *(
                        run_check(ctx, endpoint_answers, e, check_name=e.name)
                        for e in spec.endpoints
                    ),
                    run_check(ctx, ui),
                )
    return await journey_outcome(ctx)
