"""Onboarding journey: clean the test identity, walk the contract chain, check the preview,
then prove the chain's refusals and that the cleanup frees the identity, and only it."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from prefect import State, flow

from smoke import origins
from smoke.contracts import as_json
from smoke.errors import PreconditionError
from smoke.identities import check_cleanup, check_cleanup_refusal
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.results import CheckResult, Evidence, JourneyResult, Status
from smoke.scrub import scrubber
from smoke.spec import SECOND, ChainStep, OnboardingSpec, render
from tasks.browser import traced_page
from tasks.checks import journey_checks, journey_outcome, run_check, skip_rest
from tasks.context import open_journey
from tasks.exchange import SECRET_WORDS, expect, field_of, save
from tasks.http import send
from tasks.journey import JourneyContext
from tasks.sequences import journey_frame

JOURNEY = "onboarding"
check = journey_checks(JOURNEY)
Ctx = JourneyContext[OnboardingSpec]
# Where chain_step keeps the preview URL the product handed out (JourneyContext.learnt).
PREVIEW_URL = "preview_url"
# What the second identity saved on its walk: a retried check does not sign it up twice.
SECOND_SAVED = "second_saved"
PROVEN = (Status.PASSED, Status.FLAKY, Status.DEGRADED)


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
async def chain_step(ctx: Ctx, step: ChainStep) -> Passed:
    """Invariant: this step of the chain answers its expected status and its contract, and
    its answer holds every value the next steps need (saved as {{saved.<name>}}) and, with
    ``preview_url``, the preview page's URL as a string."""
    reply = await send(ctx, step)
    expect(reply, step, f"step {step.name}")
    saved = save(ctx, reply, step, f"step {step.name}")
    if step.preview_url:
        url = field_of(reply, step.preview_url, f"step {step.name}")
        if not isinstance(url, str) or not url.strip():
            raise CheckFailed(
                f"step {step.name}: the preview URL in {step.preview_url!r} is not a URL",
                expected=f"a URL string in {step.preview_url!r}",
                actual=as_json(url),
                evidence=[reply.evidence()],
            )
        ctx.learnt[PREVIEW_URL] = url.strip()
    return Passed(
        expected=f"status {' or '.join(map(str, step.expect_status))} and the step's contract",
        actual=f"status {reply.status}; carried {', '.join(saved) or 'nothing'}",
        elapsed_ms=reply.elapsed_ms,
    )


@check("preview_matches")
async def preview_matches(ctx: Ctx) -> Passed:
    """Invariant: the preview shows exactly what was submitted, every configured field
    equal to its input: the API; the page at ``page_path`` when configured; and the page
    at the URL the product handed out (a chain step's ``preview_url``), which must be on
    one of the environment's origins."""
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
    pages = _preview_pages(ctx)
    for what, url in pages:
        await _preview_page(ctx, url, what)
    shown = ", ".join(["the API", *(what for what, _ in pages)])
    return Passed(
        expected=f"{len(preview.fields)} submitted fields echoed", actual=f"all match on {shown}"
    )


def _preview_pages(ctx: Ctx) -> list[tuple[str, str]]:
    """The preview pages to open; a handed-out URL off the environment's origins fails."""
    preview = ctx.spec.preview
    assert preview is not None
    base = str(ctx.http.base_url)
    handed = ctx.learnt.get(PREVIEW_URL)
    allowed = origins.allowed_origins(ctx.config)
    if handed is not None and not origins.may_send_credentials(
        origins.resolve(base, handed), allowed
    ):
        raise CheckFailed(
            "the preview URL the product handed out is not on the environment's origins",
            expected=f"a URL on {', '.join(sorted(allowed))}",
            actual=origins.redact(handed),
        )
    return preview.pages(ctx.variables, handed, base)


async def _preview_page(ctx: Ctx, path: str, what: str) -> None:
    preview = ctx.spec.preview
    assert preview is not None
    async with traced_page(ctx) as page:
        response = await page.goto(path)
        if response is None or not response.ok:
            raise CheckFailed(
                f"{what} {origins.redact(path)} did not load",
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
                f"{what} does not show what was submitted: {', '.join(wrong)}",
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


@check("negative_cases_refused")
async def negative_cases_refused(ctx: Ctx) -> Passed:
    """Invariant: every negative case of every chain step (the step's request with another
    step's token, another identity's id...) is refused with one of its statuses.

    Its positive twins come first: it runs only after every step of the chain passed in
    this run with the right input. A case that offers the second identity's values
    (``{{second.<name>}}``) runs only after that identity, cleaned first, walked the
    chain's first steps and saved them: a refusal of an id that does not exist would
    prove nothing, so a failed walk is an error, never a pass.
    """
    spec = ctx.spec
    cases = spec.negative_cases
    if not cases:
        raise CheckSkipped("no step has negative cases", kind="not_applicable")
    unproven = [
        step.name
        for step, _ in cases
        if (r := _result_of(ctx, f"step.{step.name}")) is None or r.status not in PROVEN
    ]
    if unproven:
        raise PreconditionError(
            f"step {unproven[0]} did not pass in this run, so a refusal of its negative "
            "cases would prove nothing"
        )
    variables: dict[str, Any] = {}
    if spec.second_steps():
        variables[SECOND] = await _walk_second_identity(ctx)
    accepted: list[str] = []
    evidence: list[Evidence] = []
    for step, case in cases:
        request = step.negative_request(case)
        reply = await send(ctx, request, variables)
        if reply.status not in case.expect_status:
            accepted.append(
                f"{step.name}.{case.name}: {reply.method} {reply.path} -> {reply.status}"
            )
            evidence.append(reply.evidence(f"{step.name}.{case.name}"))
    if accepted:
        raise CheckFailed(
            f"the chain accepted {len(accepted)} of its {len(cases)} negative cases: "
            + "; ".join(accepted),
            expected="each negative case refused ("
            + ", ".join(
                f"{s.name}.{c.name} -> {' or '.join(map(str, c.expect_status))}" for s, c in cases
            )
            + ")",
            actual="; ".join(accepted),
            evidence=evidence,
        )
    walked = [s.name for s in spec.second_steps()]
    return Passed(
        expected=f"{len(cases)} negative cases refused",
        actual=", ".join(f"{s.name}.{c.name}" for s, c in cases)
        + (f" (the second identity walked {', '.join(walked)})" if walked else ""),
    )


def _result_of(ctx: Ctx, name: str) -> CheckResult | None:
    """The result this run recorded for check ``name`` of the journey, if any."""
    return next((r for r in reversed(ctx.results) if r.check == name), None)


async def _walk_second_identity(ctx: Ctx) -> dict[str, Any]:
    """Clean the second reserved identity, then walk the chain's first steps as it; what
    it saved. Once per run: a retried check reuses the walk."""
    known = ctx.learnt.get(SECOND_SAVED)
    if known is not None:
        return dict(known)
    spec = ctx.spec
    assert spec.second_identity is not None
    password = f"Smoke-{secrets.token_urlsafe(12)}"
    scrubber.register(password)
    saved: dict[str, Any] = {}
    first = {k: ctx.variables[k] for k in spec.inputs}
    inputs = spec.second_identity.inputs_over(first) | render(
        spec.second_identity.inputs, ctx.variables
    )
    variables = {**inputs, "password": password, "saved": saved}
    if spec.cleanup is not None:
        check_cleanup("onboarding.cleanup", spec.cleanup, ctx.variables | variables, ctx.config)
        reply = await send(ctx, spec.cleanup, variables)
        if reply.status not in spec.cleanup.expect_status:
            raise PreconditionError(
                f"cleaning the second identity answered {reply.status}, so its signup would "
                "collide with old data and its ids could not be offered"
            )
    for step in spec.second_steps():
        reply = await send(ctx, step, variables)
        if reply.status not in step.expect_status:
            raise PreconditionError(
                f"the second identity's step {step.name} answered {reply.status} "
                f"({reply.excerpt()}), so the negative cases that offer its "
                f"{', '.join(sorted(spec.second_values()))} cannot run"
            )
        try:
            saved.update(
                {name: field_of(reply, dotted, step.name) for name, dotted in step.save.items()}
            )
        except CheckFailed as e:
            raise PreconditionError(f"the second identity's {e.message}") from None
        for name, value in saved.items():
            if isinstance(value, str) and any(w in name.lower() for w in SECRET_WORDS):
                scrubber.register(value)
    ctx.learnt[SECOND_SAVED] = dict(saved)
    return saved


@check("cleanup_frees_identity")
async def cleanup_frees_identity(ctx: Ctx) -> Passed:
    """Invariant: the cleanup removes what this run's chain created for the reserved
    onboarding identity, so the next run's signup cannot collide: the step marked
    ``cleanup_probe`` (the signup), replayed with the same inputs, is refused with a 4xx
    (not a server error) while the account exists, the cleanup answers, and the same
    replay is then accepted.

    The first replay is the probe's own proof: a probe the product accepts while the
    identity is still taken could not tell a working cleanup from a broken one, so that
    is an error, never a pass.
    """
    spec = ctx.spec
    probe = spec.cleanup_probe
    if spec.cleanup is None:
        raise CheckSkipped("no cleanup request configured", kind="not_applicable")
    if probe is None:
        raise CheckSkipped(
            "no chain step is marked cleanup_probe (the signup to replay)", kind="not_applicable"
        )
    taken = await send(ctx, probe)
    if taken.status in probe.expect_status:
        # Accepted: the identity was free (a retry of this check after its cleanup); now
        # the replay itself made the account, so the same replay must be refused.
        taken = await send(ctx, probe)
    if taken.status in probe.expect_status:
        raise PreconditionError(
            f"replaying step {probe.name} answered {taken.status} while the identity was "
            "taken, so it cannot show whether the cleanup freed it. Mark a step the product "
            "refuses for an existing account (the signup) as cleanup_probe."
        )
    if not 400 <= taken.status < 500:
        raise CheckFailed(
            f"replaying step {probe.name} for an account that exists answered {taken.status}: "
            "the product fails where it should refuse (a 4xx such as 409)",
            expected=f"step {probe.name} refused with a 4xx while the identity is taken",
            actual=f"status {taken.status}: {taken.excerpt()}",
            evidence=[taken.evidence(f"{probe.name} while taken")],
        )
    check_cleanup("onboarding.cleanup", spec.cleanup, ctx.variables, ctx.config)
    cleaned = await send(ctx, spec.cleanup)
    expect(cleaned, spec.cleanup, "cleanup")
    again = await send(ctx, probe)
    if again.status not in probe.expect_status:
        raise CheckFailed(
            f"after the cleanup, step {probe.name} of the reserved identity still answered "
            f"{again.status}: the cleanup left the account, and the next run's {probe.name} "
            "will collide",
            expected=f"status {' or '.join(map(str, probe.expect_status))} after the cleanup",
            actual=f"status {again.status}: {again.excerpt()}",
            evidence=[cleaned.evidence("cleanup"), again.evidence(f"{probe.name} after cleanup")],
        )
    return Passed(
        expected=f"{probe.name} refused while taken, accepted after the cleanup",
        actual=f"{taken.status} before, cleanup {cleaned.status}, {again.status} after",
    )


@check("cleanup_refuses_unreserved")
async def cleanup_refuses_unreserved(ctx: Ctx) -> Passed:
    """Invariant: the cleanup refuses an address outside the reserved identities, proven
    only after the same cleanup freed the reserved identity in this run
    (``cleanup_frees_identity`` passed): a cleanup that refused everybody would pass alone.

    The address offered (``cleanup_refusal.email``) is made up for this run, holds the run
    id and sits on a domain nobody can own: even a broken cleanup that accepts it deletes
    nobody's data.
    """
    spec = ctx.spec
    refusal = spec.cleanup_refusal
    if spec.cleanup is None or refusal is None:
        raise CheckSkipped("no cleanup or cleanup_refusal configured", kind="not_applicable")
    twin = _result_of(ctx, "cleanup_frees_identity")
    if twin is None or twin.status not in PROVEN:
        raise CheckSkipped(
            "the cleanup was not shown to free the reserved identity in this run "
            f"(onboarding.cleanup_frees_identity: {twin.status.value if twin else 'not run'}), "
            "so a refusal would prove nothing",
            kind="not_applicable"
            if twin is None or twin.status is Status.SKIPPED
            else "prerequisite",
        )
    unreserved = str(render(refusal.email, ctx.variables))
    variables = {"email": unreserved}
    cleanup = spec.cleanup
    if render(cleanup.model_dump(), ctx.variables) == render(
        cleanup.model_dump(), ctx.variables | variables
    ):
        raise CheckSkipped(
            "the cleanup request does not name {{email}}: there is no address to offer it",
            kind="not_applicable",
        )
    check_cleanup_refusal(cleanup, ctx.variables | variables, unreserved, ctx.config)
    offered = cleanup.model_copy(update={"expect_status": refusal.expect_status})
    reply = await send(ctx, offered, variables)
    if reply.status not in refusal.expect_status:
        raise CheckFailed(
            f"the cleanup accepted an address outside the reserved identities: {reply.method} "
            f"{reply.path} answered {reply.status}, so it could delete a real customer's data",
            expected=f"status {' or '.join(map(str, refusal.expect_status))} for {unreserved}",
            actual=f"status {reply.status}: {reply.excerpt()}",
            evidence=[reply.evidence()],
        )
    return Passed(
        expected="the cleanup refuses an unreserved address",
        actual=f"status {reply.status} for {unreserved}",
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
        names = ["cleanup_before", *(f"step.{s.name}" for s in spec.steps), *AFTER_CHAIN]
        async with journey_frame(ctx, names) as ready:
            if ready:
                await _chain(ctx, spec)
    return await journey_outcome(ctx)


# What runs once the chain passed, in this order: the cleanup proof removes the chain's
# data, so it comes after everything that reads it.
AFTER_CHAIN = [
    "preview_matches",
    "welcome_email",
    "negative_cases_refused",
    "cleanup_frees_identity",
    "cleanup_refuses_unreserved",
]


async def _chain(ctx: Ctx, spec: OnboardingSpec) -> None:
    """Clean before, the steps in order (a failure skips the rest), preview and email, the
    negative cases, then the cleanup's proofs: it frees the identity, then refuses others."""
    after = AFTER_CHAIN
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
    await run_check(ctx, negative_cases_refused)
    freed = await run_check(ctx, cleanup_frees_identity)
    if freed.is_problem:
        skip_rest(
            ctx,
            ["cleanup_refuses_unreserved"],
            "not run: the cleanup was not shown to free the reserved identity, so a refusal "
            "would prove nothing",
        )
        return
    await run_check(ctx, cleanup_refuses_unreserved)
