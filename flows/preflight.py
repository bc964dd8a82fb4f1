"""Preflight: is the target healthy, is it the version being released, is Stripe in test mode?"""

from __future__ import annotations

import asyncio

from prefect import flow

from smoke.results import JourneyResult
from smoke.spec import PreflightSpec
from tasks.checks import CheckFailed, CheckSkipped, Passed, check, journey_result, run_check
from tasks.context import JourneyContext, open_journey
from tasks.http import expect, field_of, send
from tasks.stripe import STRIPE_TEST_MODE

JOURNEY = "preflight"


def _spec(ctx: JourneyContext) -> PreflightSpec:
    assert isinstance(ctx.spec, PreflightSpec)
    return ctx.spec


@check("health")
async def health(ctx: JourneyContext) -> Passed:
    """The health endpoint answers and says healthy."""
    spec = _spec(ctx)
    reply = await send(ctx, spec.health)
    expect(reply, spec.health, "health")
    status = field_of(reply, spec.status_field, "health")
    if status != spec.healthy_value:
        raise CheckFailed(
            f"the target reports {spec.status_field}={status!r}",
            expected=f"{spec.status_field} = {spec.healthy_value!r}",
            actual=f"{spec.status_field} = {status!r}: {reply.excerpt()}",
            evidence=[reply.evidence()],
        )
    return Passed(
        expected="healthy", actual=f"{status} ({reply.elapsed_ms} ms)", elapsed_ms=reply.elapsed_ms
    )


@check("version")
async def version(ctx: JourneyContext, wanted: str | None) -> Passed:
    """The deployed version is the one being released."""
    if not wanted:
        raise CheckSkipped("no --version given")
    spec = _spec(ctx)
    reply = await send(ctx, spec.health.model_copy(update={"expect_status": [200, 503]}))
    deployed = field_of(reply, spec.version_field, "version")
    if str(deployed) != wanted:
        raise CheckFailed(
            f"the target runs version {deployed}, not {wanted}: the deploy has not finished or failed",
            expected=f"version {wanted}",
            actual=f"version {deployed}",
            evidence=[reply.evidence()],
        )
    return Passed(expected=f"version {wanted}", actual=f"version {deployed}")


@check("stripe_test_mode")
async def stripe_test_mode(ctx: JourneyContext) -> Passed:
    """The target's e2e status says Stripe runs in test mode."""
    spec = _spec(ctx)
    if spec.e2e_status is None:
        raise CheckSkipped("no e2e status endpoint configured")
    reply = await send(ctx, spec.e2e_status)
    expect(reply, spec.e2e_status, "e2e status")
    mode = field_of(reply, spec.stripe_mode_field, "e2e status")
    if mode != STRIPE_TEST_MODE:
        raise CheckFailed(
            f"the target reports Stripe mode {mode!r}: refusing to run payment checks against it",
            expected=f"{spec.stripe_mode_field} = {STRIPE_TEST_MODE!r}",
            actual=f"{spec.stripe_mode_field} = {mode!r}",
            evidence=[reply.evidence()],
        )
    return Passed(expected="Stripe test mode", actual=f"{spec.stripe_mode_field} = {mode!r}")


@check("e2e_token_required")
async def e2e_token_required(ctx: JourneyContext) -> Passed:
    """The e2e endpoints refuse a caller without the token."""
    spec = _spec(ctx)
    if spec.e2e_status is None:
        raise CheckSkipped("no e2e status endpoint configured")
    reply = await send(ctx, spec.e2e_status, with_e2e_token=False)
    if reply.status not in (401, 403):
        raise CheckFailed(
            "the e2e API answers callers without the token: anyone can seed, clean up or read test data",
            expected="status 401 or 403 without X-E2E-Test-Token",
            actual=f"status {reply.status}",
            evidence=[reply.evidence()],
        )
    return Passed(expected="401/403 without the token", actual=f"status {reply.status}")


@flow(name="preflight", flow_run_name="preflight-{environment}", persist_result=False)
async def preflight(
    environment: str = "sandbox", version_expected: str | None = None
) -> JourneyResult:
    """Health, deployed version, Stripe test mode and e2e protection of the target."""
    async with open_journey(JOURNEY, environment) as ctx:
        await asyncio.gather(
            run_check(ctx, health),
            run_check(ctx, version, version_expected),
            run_check(ctx, stripe_test_mode),
            run_check(ctx, e2e_token_required),
        )
        return journey_result(ctx)
