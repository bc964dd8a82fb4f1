"""Onboarding journey: clean the test identity, walk the contract chain, check the preview."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from prefect import State, flow

from smoke.contracts import as_json
from smoke.identities import check_cleanup
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.results import Evidence, JourneyResult
from smoke.scrub import scrubber
from smoke.spec import OnboardingSpec, Step, render
from tasks.browser import traced_page
from tasks.checks import journey_checks, journey_outcome, run_check, skip_rest
from tasks.context import open_journey
from tasks.http import expect, field_of, save, send
from tasks.journey import JourneyContext
from tasks.sequences import journey_frame

JOURNEY = "onboarding"
check = journey_checks(JOURNEY)
Ctx = JourneyContext[OnboardingSpec]


@check("cleanup_before")
async def cleanup_before(ctx: Ctx) -> Passed:
    """Invariant: the cleanup request for the reserved onboarding identity answers its
    expected status, so the signup that follows cannot collide with an earlier run."""
    spec = ctx.spec
    if spec.cleanup is None:
        raise CheckSkipped("no cleanup request configured", kind="not_applicable")
    check_cleanup("onboarding.cleanup", spec.cleanup, ctx.variables, ctx.config)
    reply = await send(ctx, spec.cleanup)
    expect(reply, spec.cleanup, "cleanup")
    return Passed(expected="test data of the reserved identity removed", actual=reply.excerpt())


@check("step")
async def chain_step(ctx: Ctx, step: Step) -> Passed:
    """Invariant: this step of the chain answers its expected status and its contract, and
    its answer holds every value the next steps need (saved as {{saved.<name>}})."""
    reply = await send(ctx, step)
    expect(reply, step, f"step {step.name}")
    saved = save(ctx, reply, step, f"step {step.name}")
    return Passed(
        expected=f"status {' or '.join(map(str, step.expect_status))} and the step's contract",
        actual=f"status {reply.status}; carried {', '.join(saved) or 'nothing'}",
        elapsed_ms=reply.elapsed_ms,
    )


@check("preview_matches")
async def preview_matches(ctx: Ctx) -> Passed:
    """Invariant: the preview shows exactly what was submitted, every configured field
    equal to its input (the API, and the page when configured)."""
    spec = ctx.spec
    preview = spec.preview
    if preview is None:
        raise CheckSkipped("no preview configured", kind="not_applicable")
    reply = await send(ctx, preview.request)
    expect(reply, preview.request, "preview")
    shown = field_of(reply, preview.fields_at, "preview") if preview.fields_at else reply.body
    body = shown if isinstance(shown, dict) else {}
    wrong = {
        f: body.get(f, "<missing>") for f in preview.fields if body.get(f) != ctx.variables.get(f)
    }
    if wrong:
        raise CheckFailed(
            f"the preview does not show what was submitted: {', '.join(wrong)}",
            expected=", ".join(f"{f} = {as_json(ctx.variables.get(f))}" for f in wrong),
            actual=", ".join(f"{f} = {as_json(v)}" for f, v in wrong.items()),
            evidence=[reply.evidence()],
        )
    if preview.page_path:
        await _preview_page(ctx, str(render(preview.page_path, ctx.variables)))
    return Passed(expected=f"{len(preview.fields)} submitted fields echoed", actual="all match")


async def _preview_page(ctx: Ctx, path: str) -> None:
    preview = ctx.spec.preview
    assert preview is not None
    async with traced_page(ctx) as page:
        response = await page.goto(path)
        if response is None or not response.ok:
            raise CheckFailed(
                f"the preview page {path} did not load",
                expected="status 200",
                actual=f"status {response.status if response else 'none'}",
            )
        wrong = []
        for f in preview.fields:
            locator = page.locator(preview.page_field_selector.format(field=f))
            shown = (await locator.inner_text()).strip() if await locator.count() else "<missing>"
            if shown != str(ctx.variables.get(f)):
                wrong.append(f"{f} = {as_json(shown)}")
        if wrong:
            raise CheckFailed(
                f"the preview page does not show what was submitted: {', '.join(wrong)}",
                expected="every submitted field on the page",
                actual=", ".join(wrong),
            )


@check("welcome_email")
async def welcome_email(ctx: Ctx) -> Passed:
    """Invariant: an email whose subject holds ``subject_contains`` reaches the signup
    address within ``timeout_s`` (polled, bounded)."""
    spec = ctx.spec.welcome_email
    if spec is None:
        raise CheckSkipped("no welcome email configured", kind="not_applicable")
    deadline = time.monotonic() + spec.timeout_s
    delay = 0.1
    last: list[Any] = []
    while True:
        reply = await send(ctx, spec.request)
        expect(reply, spec.request, "inbox")
        last = reply.body.get("messages", []) if isinstance(reply.body, dict) else []
        found = [m for m in last if spec.subject_contains in str(m.get("subject", ""))]
        if found:
            return Passed(
                expected=f"an email with {spec.subject_contains!r} in the subject",
                actual=as_json(found[0].get("subject")),
            )
        if time.monotonic() + delay > deadline:
            break
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
    raise CheckFailed(
        f"no welcome email within {spec.timeout_s:g} s",
        expected=f"an email with {as_json(spec.subject_contains)} in the subject to {ctx.variables.get('email')}",
        actual=f"{len(last)} message(s), none matching",
        evidence=[
            Evidence(
                kind="response", label="inbox", excerpt=str([m.get("subject") for m in last])[:300]
            )
        ],
    )


@flow(name="onboarding", flow_run_name="onboarding-{environment}", persist_result=False)
async def onboarding(environment: str = "sandbox") -> State[JourneyResult]:
    """Clean before; signup to preview with ids carried step to step; the welcome email.

    Args:
        environment: The environment to test: a SmokeEnvironment block's name. `sandbox`
            starts a local sandbox for this run and stops it afterwards.
    """
    async with open_journey(JOURNEY, environment, OnboardingSpec) as ctx:
        spec = ctx.spec
        # A fresh password per run for the reserved onboarding identity.
        password = f"Smoke-{secrets.token_urlsafe(12)}"
        scrubber.register(password)
        ctx.variables.update(render(spec.inputs, ctx.variables) | {"password": password})
        names = ["cleanup_before", *(f"step.{s.name}" for s in spec.steps)]
        async with journey_frame(ctx, [*names, "preview_matches", "welcome_email"]) as ready:
            if ready:
                await _chain(ctx, spec)
    return await journey_outcome(ctx)


async def _chain(ctx: Ctx, spec: OnboardingSpec) -> None:
    """Clean before, the steps in order (a failure skips the rest), preview and email."""
    after = ["preview_matches", "welcome_email"]
    cleaned = await run_check(ctx, cleanup_before)
    if cleaned.is_problem:
        skip_rest(
            ctx,
            [f"step.{s.name}" for s in spec.steps] + after,
            "not run: cleaning the test identity failed, so a signup would collide with old data",
        )
        return
    for i, step in enumerate(spec.steps):
        result = await run_check(ctx, chain_step, step, check_name=f"step.{step.name}")
        if result.is_problem:
            skip_rest(
                ctx,
                [f"step.{s.name}" for s in spec.steps[i + 1 :]] + after,
                f"not run: step {step.name} failed and later steps need its output",
            )
            return
    await asyncio.gather(run_check(ctx, preview_matches), run_check(ctx, welcome_email))
