"""Billing journey: Stripe test mode only; checkout, webhook, decline, cancel, clean up."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from playwright.async_api import Error as PlaywrightError
from prefect import State, flow

from smoke.contracts import as_json
from smoke.identities import check_cleanup
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.results import Evidence, JourneyResult
from smoke.scrub import scrubber
from smoke.spec import BillingSpec, Request
from tasks.browser import traced_page
from tasks.checks import journey_checks, journey_outcome, run_check, skip_rest
from tasks.context import open_journey
from tasks.http import expect, field_of, send, session_token
from tasks.journey import JourneyContext
from tasks.sequences import journey_frame
from tasks.stripe import (
    STRIPE_TEST_MODE,
    cancel_subscription,
    harmless_event,
    signature_header,
    stripe_client,
    subscription_status,
)

JOURNEY = "billing"
check = journey_checks(JOURNEY)
Ctx = JourneyContext[BillingSpec]
AFTER_INTERLOCK = [
    "cleanup_before",
    "cancel_returns_unchanged",
    "declined_card",
    "checkout_success",
    "subscription_active",
    "unsigned_webhook_rejected",
    "subscription_cancelled",
]


@check("test_mode_interlock")
async def test_mode_interlock(ctx: Ctx) -> Passed:
    """Invariant: the configured key is a Stripe test key and the target itself reports
    Stripe test mode; nothing after it runs otherwise."""
    # The key prefix was checked before the run could start (a live key exits 2);
    # this re-check guards runs started from the Prefect UI with an edited block.
    stripe_client(ctx.config)
    status_req = ctx.suite.preflight.e2e_status
    if status_req is None:
        return Passed(
            expected="a Stripe test key", actual="test key (no e2e status endpoint to ask)"
        )
    reply = await send(ctx, status_req)
    expect(reply, status_req, "e2e status")
    mode = field_of(reply, ctx.suite.preflight.stripe_mode_field, "e2e status")
    if mode != STRIPE_TEST_MODE:
        raise CheckFailed(
            f"the target reports Stripe mode {as_json(mode)}: no payment check will run against it",
            expected="Stripe test mode on the target",
            actual=f"stripe mode {as_json(mode)}",
            evidence=[reply.evidence()],
        )
    return Passed(expected="Stripe test mode", actual="test key; target reports test mode")


@check("cleanup_before")
async def cleanup_before(ctx: Ctx) -> Passed:
    """Invariant: the cleanup request answers its expected status, so no subscription of
    an earlier run is left for the test identity."""
    spec = ctx.spec
    if spec.cleanup is None:
        raise CheckSkipped("no cleanup request configured", kind="not_applicable")
    check_cleanup("billing.cleanup", spec.cleanup, ctx.variables, ctx.config)
    reply = await send(ctx, spec.cleanup, auth="test")
    expect(reply, spec.cleanup, "cleanup")
    return Passed(
        expected="no subscription left from an earlier run", actual=f"status {reply.status}"
    )


async def subscription(ctx: Ctx) -> dict[str, Any]:
    """The app's view of the test identity's subscription."""
    spec = ctx.spec
    reply = await send(ctx, spec.subscription, auth="test")
    expect(reply, spec.subscription, "subscription status")
    return reply.body if isinstance(reply.body, dict) else {}


async def open_checkout(ctx: Ctx) -> dict[str, Any]:
    """Start a checkout through the API: the checkout and cancel URLs."""
    spec = ctx.spec
    reply = await send(ctx, spec.checkout, auth="test")
    expect(reply, spec.checkout, "checkout")
    return {
        "checkout_url": field_of(reply, spec.checkout_url_field, "checkout"),
        "cancel_url": field_of(reply, spec.cancel_url_field, "checkout"),
    }


async def _pay(ctx: Ctx, page: Any, card: str) -> str:
    """Fill the card form and submit; return 'success' or the error shown."""
    form = ctx.spec.card_form
    await page.fill(form.number, card)
    await page.fill(form.exp_month, "12")
    await page.fill(form.exp_year, "34")
    await page.fill(form.cvc, "123")
    if form.postal_code:
        await page.fill(form.postal_code, "10001")
    await page.click(form.submit)
    for _ in range(150):
        if await page.locator(form.success).count():
            return "success"
        # all_inner_texts never waits; mid-navigation to the success page it may find
        # the old document gone, which only means: look again.
        try:
            shown = [
                t.strip() for t in await page.locator(form.error).all_inner_texts() if t.strip()
            ]
        except PlaywrightError:
            shown = []
        if shown:
            return f"error: {shown[0]}"
        await asyncio.sleep(0.1)
    return "no answer within 15 s"


def _card_fields(ctx: Ctx) -> list[str]:
    form = ctx.spec.card_form
    return [s for s in (form.number, form.exp_month, form.exp_year, form.cvc) if s]


async def _browser_session(ctx: Ctx, page: Any) -> None:
    if ctx.spec.session_cookie:
        token = await session_token(ctx)
        await page.context.add_cookies(
            [{"name": ctx.spec.session_cookie, "value": token, "url": ctx.config.base_url}]
        )


@check("declined_card")
async def declined_card(ctx: Ctx) -> Passed:
    """Invariant: paying with the declined test card shows an error on the checkout page
    and leaves the test identity with no active subscription."""
    spec = ctx.spec
    urls = await open_checkout(ctx)
    async with traced_page(ctx, mask=_card_fields(ctx)) as page:
        await _browser_session(ctx, page)
        await page.goto(urls["checkout_url"])
        outcome = await _pay(ctx, page, spec.declined_card)
        if not outcome.startswith("error: "):
            raise CheckFailed(
                "a declined card did not produce an error",
                expected="a clear error on the checkout page",
                actual=f"checkout outcome: {outcome}",
            )
    status = (await subscription(ctx)).get(spec.subscription_status_field)
    if status not in spec.inactive_values:
        raise CheckFailed(
            f"a declined card left a subscription in status {as_json(status)}",
            expected=f"subscription status in {spec.inactive_values}",
            actual=f"status {as_json(status)}",
        )
    return Passed(
        expected="an error and no subscription",
        actual=f"{as_json(outcome[7:])}; status {as_json(status)}",
    )


@check("cancel_returns_unchanged")
async def cancel_returns_unchanged(ctx: Ctx) -> Passed:
    """Invariant: the checkout's cancel link lands on a working cancel page and the
    subscription status is the same as before the checkout."""
    spec = ctx.spec
    form = spec.card_form
    before = (await subscription(ctx)).get(spec.subscription_status_field)
    urls = await open_checkout(ctx)
    async with traced_page(ctx) as page:
        await _browser_session(ctx, page)
        await page.goto(urls["checkout_url"])
        async with page.expect_navigation() as navigation:
            await page.click(form.cancel)
        response = await navigation.value
        status_code = response.status if response else 0
        shown = await page.locator(form.cancelled).count()
        if not shown or status_code >= 400:
            raise CheckFailed(
                "the cancel URL did not bring the user back to a working page",
                expected=f"{form.cancelled} on the cancel page",
                actual=f"status {status_code or 'unknown'}, cancelled marker {'shown' if shown else 'missing'}",
            )
    after = (await subscription(ctx)).get(spec.subscription_status_field)
    if after != before:
        raise CheckFailed(
            "cancelling the checkout changed the subscription",
            expected=f"status {as_json(before)} unchanged",
            actual=f"status {as_json(after)}",
        )
    return Passed(
        expected="back on the cancel page, subscription unchanged",
        actual=f"status {as_json(after)}",
    )


@check("checkout_success")
async def checkout_success(ctx: Ctx) -> Passed:
    """Invariant: paying with the success test card reaches the success page."""
    spec = ctx.spec
    urls = await open_checkout(ctx)
    async with traced_page(ctx, mask=_card_fields(ctx)) as page:
        await _browser_session(ctx, page)
        await page.goto(urls["checkout_url"])
        outcome = await _pay(ctx, page, spec.success_card)
        if outcome != "success":
            raise CheckFailed(
                "checkout with the success test card did not succeed",
                expected="the success page",
                actual=f"checkout outcome: {outcome}",
            )
    return Passed(expected="the success page", actual="success page shown")


@check("subscription_active")
async def subscription_active(ctx: Ctx) -> Passed:
    """Invariant: after the paid checkout the app's subscription turns active within
    ``poll_timeout_s`` (the webhook was processed), and Stripe agrees it is active."""
    spec = ctx.spec
    started = time.monotonic()
    delay, polls = 0.1, 0
    body: dict[str, Any] = {}
    history: list[str] = []
    while True:
        polls += 1
        body = await subscription(ctx)
        history.append(f"{time.monotonic() - started:5.1f} s  {body}")
        if body.get(spec.subscription_status_field) == spec.active_value:
            break
        if time.monotonic() - started + delay > spec.poll_timeout_s:
            raise CheckFailed(
                f"the subscription did not become {as_json(spec.active_value)} within {spec.poll_timeout_s:g} s: "
                "the webhook was not processed",
                expected=f"status {as_json(spec.active_value)} within {spec.poll_timeout_s:g} s",
                actual=f"status {as_json(body.get(spec.subscription_status_field))} after {polls} polls",
                evidence=[
                    Evidence(
                        kind="response",
                        label="subscription status polls",
                        excerpt="\n".join(history[-10:]),
                    )
                ],
            )
        await asyncio.sleep(delay)
        # Exponential, capped low: a webhook lands within a second or two, and every
        # extra half second of sleep is wall time of the whole gate.
        delay = min(delay * 2, 0.5)
    waited = int((time.monotonic() - started) * 1000)
    ctx.variables["stripe_subscription_id"] = body.get("stripe_subscription_id")
    client = stripe_client(ctx.config)
    sub_id = body.get("stripe_subscription_id")
    if client is not None and sub_id:
        in_stripe = await subscription_status(client, str(sub_id))
        if in_stripe != "active":
            raise CheckFailed(
                "the app says active but Stripe disagrees",
                expected="Stripe subscription status 'active'",
                actual=f"Stripe says {as_json(in_stripe)}",
            )
    return Passed(
        expected=f"{spec.active_value} (app and Stripe)",
        actual=f"active after {waited} ms, {polls} polls",
    )


@check("unsigned_webhook_rejected")
async def unsigned_webhook_rejected(ctx: Ctx) -> Passed:
    """Invariant: the webhook endpoint accepts a correctly signed event (2xx) and refuses
    the same event unsigned and wrongly signed. Without the signing secret the positive
    twin cannot be sent: skipped, never passed."""
    spec = ctx.spec
    if ctx.config.stripe_webhook_secret is None:
        # Without it a signed event cannot be sent: an endpoint refusing everything would pass.
        raise CheckSkipped(
            "needs the webhook signing secret to prove signed events are accepted "
            "(set SMOKE_STRIPE_WEBHOOK_SECRET)",
            kind="configuration",
        )
    payload = harmless_event()
    post = Request(method="POST", path=spec.webhook_path, expect_status=[200])
    headers = {"Content-Type": "application/json"}

    async def deliver(extra: dict[str, str]) -> int:
        response = await ctx.http.post(spec.webhook_path, content=payload, headers=headers | extra)
        return response.status_code

    unsigned = await deliver({})
    forged = await deliver({"Stripe-Signature": signature_header(payload, "whsec_forged_by_smoke")})
    accepted = [
        name for name, code in (("unsigned", unsigned), ("wrongly signed", forged)) if code < 300
    ]
    if accepted:
        raise CheckFailed(
            f"the webhook endpoint accepted {' and '.join(accepted)} events: anyone can fake payments",
            expected="status 400/401/403 without a valid Stripe-Signature",
            actual=f"unsigned -> {unsigned}, wrongly signed -> {forged}",
        )
    secret = ctx.config.stripe_webhook_secret.get_secret_value()
    code = await deliver({"Stripe-Signature": signature_header(payload, secret)})
    if code >= 300:
        # Otherwise an endpoint that refuses everything would pass this check.
        raise CheckFailed(
            "the webhook endpoint refuses correctly signed events too",
            expected=f"status 2xx for a signed {post.method} {spec.webhook_path}",
            actual=f"signed -> {code}",
        )
    signed = f"signed -> {code}"
    return Passed(
        expected="unsigned and forged refused, signed accepted",
        actual=f"unsigned -> {unsigned}, forged -> {forged}, {signed}",
    )


@check("subscription_cancelled")
async def subscription_cancelled(ctx: Ctx) -> Passed:
    """Invariant: cancelling through the app answers 2xx and leaves the subscription
    inactive in the app and canceled in Stripe (cancelled in Stripe directly when the app
    fails, so no test subscription is left running)."""
    spec = ctx.spec
    reply = await send(ctx, spec.cancel_subscription, auth="test")
    status = (await subscription(ctx)).get(spec.subscription_status_field)
    sub_id = ctx.variables.get("stripe_subscription_id")
    client = stripe_client(ctx.config)
    app_ok = reply.status < 300 and status in spec.inactive_values
    if not app_ok and client is not None and sub_id:
        # Never leave a test subscription running, even when the app fails to cancel.
        await cancel_subscription(client, str(sub_id))
    if not app_ok:
        raise CheckFailed(
            "cancelling the test subscription through the app failed",
            expected=(
                f"{spec.cancel_subscription.method} {spec.cancel_subscription.path} 2xx, "
                f"then status in {spec.inactive_values}"
            ),
            actual=f"status {reply.status}, then subscription {as_json(status)}"
            + (" (cancelled in Stripe directly)" if sub_id else ""),
            evidence=[reply.evidence()],
        )
    if client is not None and sub_id:
        in_stripe = await subscription_status(client, str(sub_id))
        if in_stripe != "canceled":
            raise CheckFailed(
                "the app says cancelled but Stripe still has the subscription",
                expected="Stripe subscription status 'canceled'",
                actual=f"Stripe says {as_json(in_stripe)}",
            )
    return Passed(expected="subscription cancelled", actual=f"status {as_json(status)}")


@flow(name="billing", flow_run_name="billing-{environment}", persist_result=False)
async def billing(environment: str = "sandbox") -> State[JourneyResult]:
    """Test-mode interlock; decline, cancel URL, checkout, webhook, unsigned webhook, cancel.

    Args:
        environment: The environment to test: a SmokeEnvironment block's name. `sandbox`
            starts a local sandbox for this run and stops it afterwards.
    """
    async with open_journey(JOURNEY, environment, BillingSpec) as ctx:
        for card in (ctx.spec.success_card, ctx.spec.declined_card):
            scrubber.register(card)
        async with journey_frame(ctx, ["test_mode_interlock", *AFTER_INTERLOCK]) as ready:
            if ready:
                await _payments(ctx)
    return await journey_outcome(ctx)


async def _payments(ctx: Ctx) -> None:
    """The billing checks in order: each later one needs what the earlier ones proved."""
    interlock = await run_check(ctx, test_mode_interlock)
    if interlock.status.value not in ("passed", "flaky"):
        skip_rest(ctx, AFTER_INTERLOCK, "not run: Stripe test mode is not established")
        return
    cleaned = await run_check(ctx, cleanup_before)
    if cleaned.is_problem:
        skip_rest(
            ctx, AFTER_INTERLOCK[1:], "not run: cleaning the test identity's billing data failed"
        )
        return
    # These share the test identity's one subscription: they take turns, and the
    # ones that must leave it untouched go first.
    await run_check(ctx, cancel_returns_unchanged)
    await run_check(ctx, declined_card)
    paid = await run_check(ctx, checkout_success)
    if paid.is_problem:
        skip_rest(ctx, ["subscription_active"], "not run: checkout did not succeed")
    else:
        await run_check(ctx, subscription_active)
    await run_check(ctx, unsigned_webhook_rejected)
    await run_check(ctx, subscription_cancelled)
