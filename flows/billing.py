"""Billing journey: Stripe test mode only; checkout, webhook, decline, cancel, clean up."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Request as PlaywrightRequest
from prefect import State, flow

from smoke.contracts import as_json
from smoke.errors import PreconditionError
from smoke.identities import check_cleanup
from smoke.origins import url_matches
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.plans import Offer, as_offer, plan_named, plan_problems, price_problems
from smoke.results import Evidence, JourneyResult
from smoke.retry import TransientError
from smoke.scrub import scrubber
from smoke.spec import BillingSpec, Request, field_value, render, request_placeholders
from tasks.browser import traced_page
from tasks.checks import journey_checks, journey_outcome, run_check, skip_rest
from tasks.context import open_journey
from tasks.http import expect, field_of, send, session_token
from tasks.journey import JourneyContext
from tasks.sequences import journey_frame
from tasks.stripe import (
    STRIPE_TEST_MODE,
    cancel_subscription,
    customer_subscriptions,
    harmless_event,
    signature_header,
    stripe_client,
    subscription_plans,
    subscription_status,
)

JOURNEY = "billing"
check = journey_checks(JOURNEY)
Ctx = JourneyContext[BillingSpec]
AFTER_CLEANUP = [
    "cancel_returns_unchanged",
    "declined_card",
    "checkout_success",
    "subscription_active",
    "unsigned_webhook_rejected",
    "confirm_again_refused",
    "subscription_cancelled",
    "stripe_cancellation_synced",
]
AFTER_INTERLOCK = ["plans_listed", "cleanup_before", *AFTER_CLEANUP]
# How long a page element the contract names may take to appear.
ELEMENT_TIMEOUT_MS = 5000


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


@check("plans_listed")
async def plans_listed(ctx: Ctx) -> Passed:
    """Invariant: the plans request answers its contract with a non-empty list; every
    plan in it states its price as a whole amount of the currency's smallest unit and a
    three-letter currency code; and the plan the checkout buys (``plan_id``) is listed.
    Only then are the plans kept for the checks that judge a page's price."""
    spec = ctx.spec
    plans = spec.plans
    if plans is None:
        raise CheckSkipped("no billing.plans request configured", kind="not_applicable")
    reply = await send(ctx, plans.request, auth="test")
    expect(reply, plans.request, "plans")
    listed = field_of(reply, plans.items_field, "plans")
    if not isinstance(listed, list) or not listed:
        raise CheckFailed(
            "the plans request lists no plans",
            expected=f"a non-empty list at {plans.items_field!r}",
            actual=reply.excerpt(),
            evidence=[reply.evidence()],
        )
    offers: list[Offer] = []
    problems: list[str] = []
    for n, item in enumerate(listed):
        if not isinstance(item, dict):
            problems.append(f"plan {n} is {as_json(item)}, not an object")
            continue
        plan_id = item.get(plans.id_field)
        name = item.get(plans.name_field) if plans.name_field else None
        try:
            offers.append(
                as_offer(
                    plan_id, name, item.get(plans.amount_field), item.get(plans.currency_field)
                )
            )
        except ValueError as e:
            problems.append(f"plan {as_json(plan_id)}: {e}")
    if problems:
        raise CheckFailed(
            f"the plans request states a price that is not one: {problems[0]}",
            expected=(
                f"every plan with {plans.amount_field} a whole number (cents) and "
                f"{plans.currency_field} a currency code"
            ),
            actual="; ".join(problems),
            evidence=[reply.evidence()],
        )
    bought = next((o for o in offers if o.id == spec.plan_id), None)
    if spec.plan_id is not None and bought is None:
        raise CheckFailed(
            f"the plan the checkout buys, {as_json(spec.plan_id)}, is not among the plans",
            expected=f"a plan with {plans.id_field} {as_json(spec.plan_id)}",
            actual=f"plans {', '.join(as_json(o.id) for o in offers)}",
            evidence=[reply.evidence()],
        )
    ctx.variables["plans"] = offers
    return Passed(
        expected="the plans, each with an integer amount and a currency, the one bought listed",
        actual=f"{len(offers)} plans"
        + (f"; {bought.id}: {bought.price()}" if bought is not None else ""),
    )


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


def _field(body: dict[str, Any], dotted: str | None) -> Any:
    """A field of a subscription answer, None when it has none."""
    if dotted is None:
        return None
    try:
        return field_value(body, dotted)
    except (KeyError, IndexError, ValueError, TypeError):
        return None


async def _own_tenant(ctx: Ctx) -> str:
    """The test identity's tenant, as the auth journey's identity request names it."""
    if "own_tenant" not in ctx.variables:
        auth = ctx.suite.auth
        reply = await send(ctx, auth.me, auth="test")
        expect(reply, auth.me, "the test identity's identity")
        tenant = field_of(reply, auth.tenant_field, "the test identity's identity")
        ctx.variables["own_tenant"] = str(tenant)
    return str(ctx.variables["own_tenant"])


async def tenant_plan(ctx: Ctx) -> str | None:
    """The plan the test identity's tenant has now; None without a tenant_plan request."""
    spec = ctx.spec.tenant_plan
    if spec is None:
        return None
    if "own_tenant" in request_placeholders(spec.request):
        await _own_tenant(ctx)
    reply = await send(ctx, spec.request, auth="test")
    expect(reply, spec.request, "the tenant's plan")
    plan = field_of(reply, spec.plan_field, "the tenant's plan")
    return plan if isinstance(plan, str) else as_json(plan)


def _offers(ctx: Ctx) -> list[Offer]:
    """The plans as billing.plans_listed read them (empty unless it passed)."""
    offers = ctx.variables.get("plans")
    return offers if isinstance(offers, list) else []


async def wait_for_subscription(
    ctx: Ctx, reached: Callable[[Any], bool], goal: str, cause: str
) -> tuple[dict[str, Any], int, int]:
    """Poll the app's subscription until its status is ``goal`` (``reached``), within
    ``poll_timeout_s``: the answer, the number of polls and the milliseconds waited.

    CheckFailed names ``cause`` when it does not get there.
    """
    spec = ctx.spec
    started = time.monotonic()
    delay, polls = 0.1, 0
    history: list[str] = []
    while True:
        polls += 1
        body = await subscription(ctx)
        history.append(f"{time.monotonic() - started:5.1f} s  {body}")
        status = body.get(spec.subscription_status_field)
        if reached(status):
            return body, polls, int((time.monotonic() - started) * 1000)
        if time.monotonic() - started + delay > spec.poll_timeout_s:
            raise CheckFailed(
                f"the subscription did not become {goal} within {spec.poll_timeout_s:g} s: {cause}",
                expected=f"status {goal} within {spec.poll_timeout_s:g} s",
                actual=f"status {as_json(status)} after {polls} polls",
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


async def open_checkout(ctx: Ctx) -> dict[str, Any]:
    """Start a checkout through the API: the checkout and cancel URLs."""
    spec = ctx.spec
    reply = await send(ctx, spec.checkout, auth="test")
    expect(reply, spec.checkout, "checkout")
    return {
        "checkout_url": field_of(reply, spec.checkout_url_field, "checkout"),
        "cancel_url": field_of(reply, spec.cancel_url_field, "checkout"),
    }


async def _pay(
    ctx: Ctx, page: Any, card: str, watch: Callable[[], Awaitable[None]] | None = None
) -> str:
    """Fill the card form and submit; return 'success' or the error shown.

    ``watch`` is awaited between looks at the page, while the payment is under way.
    """
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
        if watch is not None:
            await watch()
        await asyncio.sleep(0.1)
    return "no answer within 15 s"


async def _text_of(page: Any, selector: str) -> str | None:
    """The text of the first element ``selector`` finds, None when there is none."""
    try:
        text: str = await page.locator(selector).first.inner_text(timeout=ELEMENT_TIMEOUT_MS)
    except PlaywrightError:
        return None
    return text.strip()


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
    """Invariant: the checkout's cancel link lands on a working cancel page; that page
    names the plan the tenant had before the checkout (``card_form.current_plan``
    against ``tenant_plan``: the plan's id or its listed name); and neither the
    subscription status nor the tenant's plan changed."""
    spec = ctx.spec
    form = spec.card_form
    before = (await subscription(ctx)).get(spec.subscription_status_field)
    plan_before = await tenant_plan(ctx)
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
        page_plan = await _text_of(page, form.current_plan) if form.current_plan else None
        if form.current_plan and page_plan is None:
            raise CheckFailed(
                "the cancel page does not say which plan the user is on",
                expected=f"{form.current_plan} on the cancel page",
                actual=f"no {form.current_plan} within {ELEMENT_TIMEOUT_MS / 1000:g} s",
            )
        if (
            page_plan is not None
            and plan_before is not None
            and not plan_named(page_plan, plan_before, _offers(ctx))
        ):
            raise CheckFailed(
                f"the cancel page says the plan is {as_json(page_plan)}, but the tenant "
                f"is on {as_json(plan_before)}",
                expected=f"{form.current_plan} naming the plan before checkout, "
                f"{as_json(plan_before)}",
                actual=f"{form.current_plan} shows {as_json(page_plan)}",
            )
    after = (await subscription(ctx)).get(spec.subscription_status_field)
    if after != before:
        raise CheckFailed(
            "cancelling the checkout changed the subscription",
            expected=f"status {as_json(before)} unchanged",
            actual=f"status {as_json(after)}",
        )
    plan_after = await tenant_plan(ctx)
    if plan_after != plan_before:
        raise CheckFailed(
            "cancelling the checkout changed the tenant's plan",
            expected=f"plan {as_json(plan_before)} unchanged",
            actual=f"plan {as_json(plan_after)}",
        )
    if page_plan is None:
        shows = "current plan not shown (no card_form.current_plan)"
    elif plan_before is None:
        shows = f"page says plan {as_json(page_plan)}, not compared (no billing.tenant_plan)"
    else:
        shows = f"page and tenant say plan {as_json(plan_before)}"
    return Passed(
        expected="back on the cancel page, subscription and plan unchanged",
        actual=f"status {as_json(after)}; {shows}",
    )


async def _judge_price(ctx: Ctx, page: Any) -> str:
    """Fail unless the checkout page shows the bought plan's name and price; what it shows."""
    spec = ctx.spec
    selector = spec.card_form.price
    if selector is None:
        return "price not judged (no card_form.price)"
    bought = next((o for o in _offers(ctx) if o.id == spec.plan_id), None)
    if bought is None:
        why = (
            "no billing.plan_id"
            if spec.plan_id is None
            else "no billing.plans request"
            if spec.plans is None
            else "billing.plans_listed did not pass"
        )
        return f"price not judged ({why})"
    text = await _text_of(page, selector)
    if text is None:
        raise CheckFailed(
            "the checkout page does not show what is bought",
            expected=f"{selector} showing {bought.name or bought.id} at {bought.price()}",
            actual=f"no {selector} within {ELEMENT_TIMEOUT_MS / 1000:g} s",
        )
    problems = price_problems(text, bought)
    if problems:
        raise CheckFailed(
            f"the checkout page for plan {as_json(bought.id)} shows {as_json(text)}: "
            f"{problems[0]} (nothing was paid)",
            expected=f"{selector} showing {bought.name or bought.id} at {bought.price()}, "
            "as the plans request states it",
            actual=f"{selector} shows {as_json(text)}: {'; '.join(problems)}",
        )
    return f"checkout page shows {as_json(text)}"


class FirstActive:
    """The first answer of the app's subscription that says active while a payment is
    under way, with the tenant's plan read right after it: the moment a user could see
    either. subscription_active judges it (``ctx.variables["first_active"]``).
    """

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.seen: dict[str, Any] | None = None

    async def __call__(self) -> None:
        if self.seen is not None:
            return
        spec = self.ctx.spec
        try:
            status = (await subscription(self.ctx)).get(spec.subscription_status_field)
            if status == spec.active_value:
                self.seen = {"status": status, "tenant": await tenant_plan(self.ctx)}
        except (CheckFailed, TransientError, httpx.HTTPError):
            # Only a look: subscription_active reads both again and judges what it gets.
            return


CONFIRMATION = "confirmation"
CHECKOUT_STARTED = "checkout_started"
# How much earlier than this machine's clock Stripe may date what this run created.
CLOCK_SLACK_S = 30


def _record_confirmation(ctx: Ctx, page: Any) -> None:
    """Keep the first request the checkout page sends that ``confirm_again.request_url``
    matches (``ctx.variables[CONFIRMATION]``), for confirm_again_refused to send again."""
    again = ctx.spec.confirm_again
    if again is None:
        return
    pattern = again.request_url

    def on_request(request: PlaywrightRequest) -> None:
        if (
            CONFIRMATION in ctx.variables
            or request.method == "GET"
            or not url_matches(pattern, request.url)
        ):
            return
        ctx.variables[CONFIRMATION] = {
            "method": request.method,
            "url": request.url,
            "content_type": request.headers.get("content-type", ""),
            "body": request.post_data,
        }

    page.on("request", on_request)


@check("checkout_success")
async def checkout_success(ctx: Ctx) -> Passed:
    """Invariant: before paying, the checkout page shows the plan bought with its price
    as the plans request states it (name, amount, currency: ``card_form.price``), and
    paying with the success test card reaches the success page, which names the plan
    bought (``card_form.success_plan``). A wrong price fails the
    check before anything is paid; without a price element or the plans (plans_listed
    passed) the price is not judged, and the result says so."""
    spec = ctx.spec
    if spec.tenant_plan is not None and "own_tenant" in request_placeholders(
        spec.tenant_plan.request
    ):
        # Known before paying, so a look at the tenant while paying is one request.
        await _own_tenant(ctx)
    urls = await open_checkout(ctx)
    ctx.variables.pop(CONFIRMATION, None)
    ctx.variables[CHECKOUT_STARTED] = time.time()
    async with traced_page(ctx, mask=_card_fields(ctx)) as page:
        await _browser_session(ctx, page)
        await page.goto(urls["checkout_url"])
        shown = await _judge_price(ctx, page)
        _record_confirmation(ctx, page)
        first_active = FirstActive(ctx)
        outcome = await _pay(ctx, page, spec.success_card, watch=first_active)
        if outcome != "success":
            raise CheckFailed(
                "checkout with the success test card did not succeed",
                expected="the success page",
                actual=f"checkout outcome: {outcome}",
            )
        await first_active()
        ctx.variables["first_active"] = first_active.seen
        named = await _judge_success_plan(ctx, page)
    return Passed(
        expected="the plan's price on the checkout page, then the success page naming it",
        actual=f"{shown}; success page shown, {named}",
    )


async def _judge_success_plan(ctx: Ctx, page: Any) -> str:
    """Fail unless the success page names the plan bought (``card_form.success_plan``)."""
    spec = ctx.spec
    selector = spec.card_form.success_plan
    if selector is None or spec.plan_id is None:
        return "the plan it names not judged (no card_form.success_plan or billing.plan_id)"
    text = await _text_of(page, selector)
    if text is None or not plan_named(text, spec.plan_id, _offers(ctx)):
        raise CheckFailed(
            f"the success page does not name the plan bought, {as_json(spec.plan_id)}: "
            + (f"it says {as_json(text)}" if text is not None else f"no {selector}"),
            expected=f"{selector} naming {as_json(spec.plan_id)} (its id or its listed name)",
            actual=f"{selector} shows {as_json(text)}" if text is not None else f"no {selector}",
        )
    return f"naming {as_json(text)}"


@check("subscription_active")
async def subscription_active(ctx: Ctx) -> Passed:
    """Invariant: after the paid checkout the app's subscription turns active within
    ``poll_timeout_s`` (the webhook was processed), and from the first answer that says
    active the plan bought (``plan_id``) is provisioned: the app's subscription names it
    (``subscription_plan_field``), the tenant has it (``tenant_plan``), and Stripe says
    the subscription is active and for that plan (``stripe_plan_id``). An answer that
    says active before the tenant has the plan is a lie about provisioning, not a delay;
    the first such answer may be one checkout_success saw while the payment was under way."""
    spec = ctx.spec
    first_active = ctx.variables.pop("first_active", None)
    body, polls, waited = await wait_for_subscription(
        ctx,
        lambda status: status == spec.active_value,
        as_json(spec.active_value),
        "the webhook was not processed",
    )
    # Read at once: the tenant must have the plan the moment the subscription says active.
    tenant_now = await tenant_plan(ctx)
    sub_id = _field(body, spec.subscription_stripe_id_field)
    ctx.variables["stripe_subscription_id"] = sub_id
    in_app = _field(body, spec.subscription_plan_field)
    wanted = spec.plan_id or (in_app if isinstance(in_app, str) else None)
    seen: dict[str, Any] = {}
    if spec.plan_id is not None and spec.subscription_plan_field is not None:
        seen["the app's subscription"] = in_app
    if tenant_now is not None and wanted is not None:
        seen["the tenant"] = tenant_now
    problems = plan_problems(wanted, seen) if wanted is not None else []
    early = first_active.get("tenant") if isinstance(first_active, dict) else None
    if early is not None and wanted is not None and early != wanted:
        problems.insert(
            0,
            f"while the payment was under way the subscription already said "
            f"{as_json(spec.active_value)} and the tenant said {early!r}",
        )
    client = stripe_client(ctx.config)
    if client is not None and sub_id:
        in_stripe = await subscription_status(client, str(sub_id))
        if in_stripe != "active":
            raise CheckFailed(
                "the app says active but Stripe disagrees",
                expected="Stripe subscription status 'active'",
                actual=f"Stripe says {as_json(in_stripe)}",
            )
        if spec.stripe_plan_id is not None:
            stripe_wanted = str(render(spec.stripe_plan_id, ctx.variables))
            stripe_plans = await subscription_plans(client, str(sub_id))
            problems += plan_problems(stripe_wanted, {"Stripe's subscription": stripe_plans})
            seen["Stripe"] = stripe_plans
    if problems:
        raise CheckFailed(
            f"the subscription says {as_json(spec.active_value)}, but the plan bought, "
            f"{as_json(wanted)}, is not what is provisioned: {problems[0]}",
            expected=f"plan {as_json(wanted)} in {', '.join(seen)}",
            actual="; ".join(problems),
        )
    return Passed(
        expected=f"{spec.active_value} (app and Stripe)"
        + (f", plan {wanted} provisioned" if wanted else ""),
        actual=f"active after {waited} ms, {polls} polls"
        + (f"; plan {wanted} in {', '.join(seen)}" if seen else ""),
    )


@check("confirm_again_refused")
async def confirm_again_refused(ctx: Ctx) -> Passed:
    """Invariant: a checkout that was paid (checkout_success passed: the positive twin)
    cannot be confirmed again. The confirmation the checkout page sent
    (``confirm_again.request_url``) is sent once more as the test identity, as a double
    click on Subscribe would: it must answer an expected refusal status, and the
    customer of the app's subscription must hold exactly one live subscription in Stripe
    created since that checkout began (any other is cancelled there at once, so no test
    subscription is left running).
    Without the Stripe test key the refusal alone is judged, and the result says so."""
    spec = ctx.spec
    again = spec.confirm_again
    if again is None:
        raise CheckSkipped("no confirm_again configured", kind="not_applicable")
    paid = next((r for r in ctx.results if r.check == "checkout_success"), None)
    if paid is None or paid.is_problem:
        raise CheckSkipped("needs checkout_success to pass first", kind="prerequisite")
    sent = ctx.variables.get(CONFIRMATION)
    if not isinstance(sent, dict):
        raise PreconditionError(
            f"the checkout page sent no request matching billing.confirm_again.request_url "
            f"{again.request_url!r} while it was paid: fix the glob to match the request "
            "its Subscribe button sends"
        )
    reply = await send(ctx, _replay_request(sent, again.expect_status), auth="test", probe=False)
    in_stripe = await _stripe_subscriptions(ctx)
    refused = reply.status in again.expect_status
    if not refused or (in_stripe is not None and len(in_stripe) != 1):
        stripe_words = (
            f"; the customer has {len(in_stripe)} subscriptions in Stripe ({', '.join(in_stripe)})"
            if in_stripe is not None
            else ""
        )
        raise CheckFailed(
            f"a paid checkout can be confirmed again: {reply.method} {reply.path} answered "
            f"{reply.status}{stripe_words}",
            expected=f"status {' or '.join(map(str, again.expect_status))}"
            + (", one subscription in Stripe" if in_stripe is not None else ""),
            actual=f"status {reply.status}: {reply.excerpt()}{stripe_words}",
            evidence=[reply.evidence()],
        )
    return Passed(
        expected=f"status {' or '.join(map(str, again.expect_status))}"
        + (", one subscription in Stripe" if in_stripe is not None else ""),
        actual=f"{reply.method} {reply.path} -> {reply.status}"
        + (
            ", one subscription in Stripe"
            if in_stripe is not None
            else " (Stripe not read: no SMOKE_STRIPE_SECRET_KEY)"
        ),
    )


def _replay_request(sent: dict[str, Any], expect_status: list[int]) -> Request:
    """The recorded confirmation as a request of the contract's kind."""
    content_type = str(sent.get("content_type", ""))
    raw = sent.get("body")
    body: Any = None
    body_format: Literal["json", "form"] = "json"
    if raw:
        if "application/x-www-form-urlencoded" in content_type:
            body, body_format = dict(parse_qsl(str(raw), keep_blank_values=True)), "form"
        else:
            try:
                body = json.loads(str(raw))
            except ValueError:
                raise PreconditionError(
                    "the checkout page's confirmation has a body that is neither JSON nor a "
                    f"form ({content_type or 'no content type'}): it cannot be sent again"
                ) from None
    return Request(
        method=sent["method"],
        path=str(sent["url"]),
        body=body,
        body_format=body_format,
        expect_status=expect_status,
    )


async def _stripe_subscriptions(ctx: Ctx) -> list[str] | None:
    """The ids of the live (not cancelled) Stripe subscriptions of the customer of the
    app's subscription created since the paid checkout began (an earlier run's are not
    this run's to judge or touch); every one but the app's is cancelled in Stripe right
    away. None without the Stripe test key or a Stripe id in the app's answer."""
    spec = ctx.spec
    client = stripe_client(ctx.config)
    if client is None:
        return None
    sub_id = _field(await subscription(ctx), spec.subscription_stripe_id_field)
    if not sub_id:
        return None
    since = int(ctx.variables.get(CHECKOUT_STARTED, time.time()) - CLOCK_SLACK_S)
    live = await customer_subscriptions(client, str(sub_id), created_since=since)
    for other in live:
        if other != sub_id:
            # Never leave a test subscription running: the app keeps the one it names.
            await cancel_subscription(client, other)
    return live


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
    fails, so no test subscription is left running). After a failed checkout that left
    no subscription there is nothing to cancel: skipped, never passed."""
    spec = ctx.spec
    paid = next((r for r in ctx.results if r.check == "checkout_success"), None)
    if paid is not None and paid.is_problem:
        left = (await subscription(ctx)).get(spec.subscription_status_field)
        if left in spec.inactive_values:
            raise CheckSkipped(
                f"not run: checkout did not succeed and left no subscription to cancel "
                f"(status {as_json(left)})",
                kind="prerequisite",
            )
    reply = await send(ctx, spec.cancel_subscription, auth="test")
    body = await subscription(ctx)
    status = body.get(spec.subscription_status_field)
    sub_id = ctx.variables.get("stripe_subscription_id") or _field(
        body, spec.subscription_stripe_id_field
    )
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
            + (" (cancelled in Stripe directly)" if client is not None and sub_id else ""),
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


@check("stripe_cancellation_synced")
async def stripe_cancellation_synced(ctx: Ctx) -> Passed:
    """Invariant: a subscription cancelled in Stripe itself (its dashboard, dunning), not
    through the app, turns inactive in the app within ``poll_timeout_s``: the app learns
    of it from Stripe's ``customer.subscription.deleted`` webhook. The check buys a
    subscription of its own with the success test card, waits until the app says it is
    active, then cancels it in Stripe. Without the Stripe test key it cannot cancel in
    Stripe: skipped, never passed."""
    spec = ctx.spec
    client = stripe_client(ctx.config)
    if client is None:
        raise CheckSkipped(
            "needs the Stripe test key to cancel a subscription in Stripe directly "
            "(set SMOKE_STRIPE_SECRET_KEY)",
            kind="configuration",
        )
    urls = await open_checkout(ctx)
    async with traced_page(ctx, mask=_card_fields(ctx)) as page:
        await _browser_session(ctx, page)
        await page.goto(urls["checkout_url"])
        outcome = await _pay(ctx, page, spec.success_card)
    if outcome != "success":
        raise CheckFailed(
            "a second checkout with the success test card did not succeed",
            expected="the success page",
            actual=f"checkout outcome: {outcome}",
        )
    body, _, _ = await wait_for_subscription(
        ctx,
        lambda status: status == spec.active_value,
        as_json(spec.active_value),
        "the webhook was not processed",
    )
    sub_id = _field(body, spec.subscription_stripe_id_field)
    if not sub_id:
        # Nothing to cancel in Stripe by id: cancel through the app, leave nothing running.
        await send(ctx, spec.cancel_subscription, auth="test")
        raise CheckSkipped(
            f"the subscription answer has no {spec.subscription_stripe_id_field!r} to cancel "
            "in Stripe (set billing.subscription_stripe_id_field)",
            kind="configuration",
        )
    await cancel_subscription(client, str(sub_id))
    inactive = spec.inactive_values
    body, polls, waited = await wait_for_subscription(
        ctx,
        lambda status: status in inactive,
        f"one of {', '.join(map(as_json, inactive))}",
        "the app never learnt that Stripe cancelled it (customer.subscription.deleted "
        "was not processed): service without payment",
    )
    status = body.get(spec.subscription_status_field)
    return Passed(
        expected=f"status in {inactive} after Stripe cancels it",
        actual=f"status {as_json(status)} {waited} ms after Stripe cancelled it, {polls} polls",
    )


@flow(name="billing", flow_run_name="billing-{environment}", persist_result=False)
async def billing(environment: str = "sandbox") -> State[JourneyResult]:
    """Test-mode interlock, plans; cancel URL, decline, checkout, webhook, cancel both ways.

    Args:
        environment: The environment to test: a SmokeEnvironment block's name. `sandbox`
            starts a local sandbox for this run and stops it afterwards.
    """
    async with open_journey(JOURNEY, environment, BillingSpec) as ctx:
        for card in (ctx.spec.success_card, ctx.spec.declined_card):
            scrubber.register(card)
        if ctx.spec.plan_id is not None:
            ctx.variables["plan_id"] = ctx.spec.plan_id
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
    # Read-only: it runs in a production environment too.
    await run_check(ctx, plans_listed)
    cleaned = await run_check(ctx, cleanup_before)
    if cleaned.is_problem:
        skip_rest(ctx, AFTER_CLEANUP, "not run: cleaning the test identity's billing data failed")
        return
    # These share the test identity's one subscription: they take turns, and the
    # ones that must leave it untouched go first.
    await run_check(ctx, cancel_returns_unchanged)
    await run_check(ctx, declined_card)
    paid = await run_check(ctx, checkout_success)
    if paid.is_problem:
        skip_rest(ctx, ["subscription_active"], "not run: checkout did not succeed")
        active = paid
    else:
        active = await run_check(ctx, subscription_active)
    if paid.is_problem:
        skip_rest(ctx, ["confirm_again_refused"], "not run: checkout did not succeed")
    else:
        await run_check(ctx, confirm_again_refused)
    await run_check(ctx, unsigned_webhook_rejected)
    await run_check(ctx, subscription_cancelled)
    if active.is_problem:
        skip_rest(
            ctx,
            ["stripe_cancellation_synced"],
            "not run: a paid checkout did not become an active subscription",
        )
    else:
        await run_check(ctx, stripe_cancellation_synced)
