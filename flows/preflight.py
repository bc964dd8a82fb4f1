"""Preflight: is the target healthy, is it the version being released, is Stripe in test mode?"""

from __future__ import annotations

import asyncio

from prefect import State, flow

from smoke.contracts import as_json
from smoke.errors import PreconditionError
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.results import JourneyResult
from smoke.spec import PreflightSpec
from tasks.checks import journey_checks, journey_outcome, run_check
from tasks.context import open_journey
from tasks.exchange import E2E_HEADER, expect, field_of
from tasks.http import send
from tasks.journey import JourneyContext
from tasks.stripe import STRIPE_TEST_MODE

JOURNEY = "preflight"
check = journey_checks(JOURNEY)
Ctx = JourneyContext[PreflightSpec]


@check("health")
async def health(ctx: Ctx) -> Passed:
    """Invariant: the health endpoint answers an expected status, its whole body matches
    the health schema (any shape: an object, per-backend booleans, a bare ``true``), and
    ``status_field``, when configured, equals ``healthy_value``."""
    spec = ctx.spec
    reply = await send(ctx, spec.health)
    expect(reply, spec.health, "health")
    if spec.status_field is None:
        return Passed(
            expected="a healthy body (its schema)",
            actual=f"{reply.excerpt()} ({reply.elapsed_ms} ms)",
            elapsed_ms=reply.elapsed_ms,
        )
    status = field_of(reply, spec.status_field, "health")
    if status != spec.healthy_value:
        raise CheckFailed(
            f"the target reports {spec.status_field} = {as_json(status)}, not "
            f"{as_json(spec.healthy_value)}",
            expected=f"{spec.status_field} = {as_json(spec.healthy_value)}",
            actual=f"{spec.status_field} = {as_json(status)}: {reply.excerpt()}",
            evidence=[reply.evidence()],
        )
    return Passed(
        expected="healthy",
        actual=f"{as_json(status)} ({reply.elapsed_ms} ms)",
        elapsed_ms=reply.elapsed_ms,
    )


@check("version")
async def version(ctx: Ctx, wanted: str | None) -> Passed:
    """Invariant: the version the target reports (``version_field`` of the version request,
    by default the health request) is exactly the one being released."""
    if not wanted:
        raise CheckSkipped("no --version given", kind="configuration")
    spec = ctx.spec
    req = spec.version or spec.health.model_copy(update={"expect_status": [200, 503]})
    reply = await send(ctx, req)
    if spec.version is not None:
        expect(reply, req, "version")
    deployed = field_of(reply, spec.version_field, "version")
    if str(deployed) != wanted:
        raise CheckFailed(
            f"the target runs version {as_json(deployed)}, not {as_json(wanted)}: the deploy "
            "has not finished or failed",
            expected=f"version {wanted}",
            actual=f"version {deployed}",
            evidence=[reply.evidence()],
        )
    return Passed(expected=f"version {wanted}", actual=f"version {deployed}")


@check("stripe_test_mode")
async def stripe_test_mode(ctx: Ctx) -> Passed:
    """Invariant: the target's own e2e status says Stripe runs in test mode."""
    spec = ctx.spec
    if spec.e2e_status is None:
        raise CheckSkipped("no e2e status endpoint configured", kind="not_applicable")
    reply = await send(ctx, spec.e2e_status)
    expect(reply, spec.e2e_status, "e2e status")
    mode = field_of(reply, spec.stripe_mode_field, "e2e status")
    if mode != STRIPE_TEST_MODE:
        raise CheckFailed(
            f"the target reports Stripe mode {as_json(mode)}: refusing to run payment checks "
            "against it",
            expected=f"{spec.stripe_mode_field} = {as_json(STRIPE_TEST_MODE)}",
            actual=f"{spec.stripe_mode_field} = {as_json(mode)}",
            evidence=[reply.evidence()],
        )
    return Passed(expected="Stripe test mode", actual=f"{spec.stripe_mode_field} = {as_json(mode)}")


@check("e2e_token_required")
async def e2e_token_required(ctx: Ctx) -> Passed:
    """Invariant: the e2e endpoint answers 2xx with the token, and refuses (401/403) a
    caller without it and a caller with a wrong one."""
    spec = ctx.spec
    if spec.e2e_status is None:
        raise CheckSkipped("no e2e status endpoint configured", kind="not_applicable")
    with_token = await send(ctx, spec.e2e_status)
    if not with_token.ok:
        raise PreconditionError(
            f"the e2e status endpoint answers {with_token.status} even with the token, so a "
            "refusal without it would prove nothing: check SMOKE_E2E_TOKEN"
        )
    without = await send(ctx, spec.e2e_status, with_e2e_token=False)
    wrong = await send(
        ctx, spec.e2e_status, with_e2e_token=False, headers={E2E_HEADER: "wrong-smoke-token"}
    )
    opened = [
        (w, r)
        for w, r in (("without", without), ("with a wrong", wrong))
        if r.status not in (401, 403)
    ]
    if opened:
        words, reply = opened[0]
        raise CheckFailed(
            f"the e2e API answers callers {words} token: anyone can seed, clean up or read "
            "test data",
            expected="status 401 or 403 without X-E2E-Test-Token and with a wrong one",
            actual=", ".join(f"{w} token -> {r.status}" for w, r in opened),
            evidence=[reply.evidence()],
        )
    return Passed(
        expected="2xx with the token, 401/403 without or with a wrong one",
        actual=f"with {with_token.status}, without {without.status}, wrong {wrong.status}",
    )


@flow(name="preflight", flow_run_name="preflight-{environment}", persist_result=False)
async def preflight(
    environment: str = "sandbox", version_expected: str | None = None
) -> State[JourneyResult]:
    """Health, deployed version, Stripe test mode and e2e protection of the target.

    Args:
        environment: The environment to check: a SmokeEnvironment block's name.
        version_expected: The version the target must report; not checked when empty.
    """
    async with open_journey(JOURNEY, environment, PreflightSpec) as ctx:
        await asyncio.gather(
            run_check(ctx, health),
            run_check(ctx, version, version_expected),
            run_check(ctx, stripe_test_mode),
            run_check(ctx, e2e_token_required),
        )
        return await journey_outcome(ctx)
