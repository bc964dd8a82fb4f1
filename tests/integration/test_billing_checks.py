"""The billing checks that judge plans and provisioning, against an in-process fake app.

Each check body runs through the one HTTP helper against httpx's MockTransport (no
Prefect run, no Stripe key: the Stripe part of subscription_active is left out), so a
wrong verdict on a plan or a provisioning lie shows without a browser or a sandbox.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from flows.billing import plans_listed, subscription_active
from smoke.config import SmokeConfig
from smoke.results import CheckResult, Status
from smoke.spec import load_spec
from tasks.journey import JourneyContext

TOKEN = "tok-0123456789abcdef"
PLANS = [
    {"id": "pro-monthly", "name": "Pro", "amount": 2900, "currency": "usd", "interval": "month"},
    {"id": "team-monthly", "name": "Team", "amount": 9900, "currency": "usd", "interval": "month"},
]


@dataclass
class FakeBilling:
    """What the fake app answers: its plans, the subscription, the tenant's plan."""

    plans: list[Any] = field(default_factory=lambda: [dict(p) for p in PLANS])
    status: str = "active"
    plan_id: str = "team-monthly"
    tenant_plan: str = "team-monthly"
    seen: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.seen.append(f"{request.method} {path}")
        if path == "/api/billing/plans":
            return httpx.Response(200, json={"plans": self.plans})
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401)
        if path == "/api/me":
            return httpx.Response(
                200, json={"id": "u1", "email": "smoke@example.com", "tenant_id": "acme"}
            )
        if path == "/api/tenants/acme":
            return httpx.Response(200, json={"id": "acme", "plan": self.tenant_plan})
        if path == "/api/billing/subscription":
            body = {"status": self.status, "plan_id": self.plan_id, "stripe_subscription_id": None}
            return httpx.Response(200, json=body)
        return httpx.Response(404)


def billing_journey(tmp_path: Path, app: FakeBilling, inline: dict[str, Any] | None = None) -> Any:
    config = SmokeConfig(
        name="fake",
        base_url="http://app.test",
        auth_method="static_token",
        test_email="smoke@example.com",
        static_token=SecretStr(TOKEN),
    )
    suite = load_spec(inline=inline)
    ctx = JourneyContext("billing", config, suite, tmp_path, suite.billing)
    ctx.http = httpx.AsyncClient(
        base_url=config.api_base, transport=httpx.MockTransport(app), cookies=ctx.http.cookies.jar
    )
    ctx.variables["plan_id"] = suite.billing.plan_id
    return ctx


def run(ctx: Any, *checks: Any) -> list[CheckResult]:
    async def go() -> list[CheckResult]:
        try:
            return [(await check.fn(ctx)).data for check in checks]
        finally:
            await ctx.aclose()

    return asyncio.run(go())


def test_the_plans_pass_with_a_price_each_and_are_kept_for_the_price_checks(
    tmp_path: Path,
) -> None:
    ctx = billing_journey(tmp_path, FakeBilling())
    [result] = run(ctx, plans_listed)
    assert result.status is Status.PASSED, result
    assert result.actual == "2 plans; team-monthly: 99.00 USD"
    assert [o.id for o in ctx.variables["plans"]] == ["pro-monthly", "team-monthly"]


@pytest.mark.parametrize(
    ("inline", "plans", "message"),
    [
        # The contract's schema catches an amount sent as text ...
        (None, [dict(PLANS[1], amount="9900")], "breaks its contract"),
        # ... and so does the check itself when a contract has no schema.
        (
            {"billing": {"plans": {"request": {"schema": None}}}},
            [dict(PLANS[1], amount="9900")],
            'plan "team-monthly": amount "9900" is not a whole number',
        ),
        (None, [PLANS[0]], 'the plan the checkout buys, "team-monthly", is not among the plans'),
        ({"billing": {"plans": {"request": {"schema": None}}}}, [], "lists no plans"),
    ],
)
def test_plans_without_a_price_or_without_the_plan_bought_fail(
    tmp_path: Path, inline: dict[str, Any] | None, plans: list[Any], message: str
) -> None:
    ctx = billing_journey(tmp_path, FakeBilling(plans=plans), inline)
    [result] = run(ctx, plans_listed)
    assert result.status is Status.FAILED, result
    assert message in result.message
    assert "plans" not in ctx.variables


def test_no_plans_request_is_not_applicable(tmp_path: Path) -> None:
    ctx = billing_journey(tmp_path, FakeBilling(), {"billing": {"plans": None}})
    [result] = run(ctx, plans_listed)
    assert result.status is Status.SKIPPED
    assert result.skipped_because == "not_applicable"


def test_an_active_subscription_with_the_plan_provisioned_passes(tmp_path: Path) -> None:
    app = FakeBilling()
    [result] = run(billing_journey(tmp_path, app), subscription_active)
    assert result.status is Status.PASSED, result
    assert "plan team-monthly in the app's subscription, the tenant" in result.actual
    # The tenant is read right after the first answer that says active.
    assert app.seen[-3:] == [
        "GET /api/billing/subscription",
        "GET /api/me",
        "GET /api/tenants/acme",
    ]


@pytest.mark.parametrize(
    ("app", "problem"),
    [
        # Active before the plan is provisioned: the tenant is still on free.
        (FakeBilling(tenant_plan="free"), "the tenant says 'free'"),
        # The chosen plan ignored: the default plan was sold and provisioned.
        (
            FakeBilling(plan_id="pro-monthly", tenant_plan="pro-monthly"),
            "the app's subscription says 'pro-monthly'",
        ),
    ],
)
def test_an_active_subscription_without_the_plan_bought_fails(
    tmp_path: Path, app: FakeBilling, problem: str
) -> None:
    [result] = run(billing_journey(tmp_path, app), subscription_active)
    assert result.status is Status.FAILED, result
    assert result.message.startswith(
        'the subscription says "active", but the plan bought, "team-monthly", is not what is provisioned'
    )
    assert problem in result.actual


def test_without_a_plan_to_buy_the_tenant_must_have_the_plan_the_app_sold(tmp_path: Path) -> None:
    inline = {
        "billing": {
            "plan_id": None,
            "stripe_plan_id": None,
            "checkout": {"body": {"plan_id": "team-monthly"}},
        }
    }
    [passed] = run(billing_journey(tmp_path, FakeBilling(), inline), subscription_active)
    assert passed.status is Status.PASSED, passed
    lying = FakeBilling(tenant_plan="free")
    [failed] = run(billing_journey(tmp_path, lying, inline), subscription_active)
    assert failed.status is Status.FAILED
    assert "the tenant says 'free'" in failed.actual


def test_active_while_paying_before_the_tenant_had_the_plan_fails(tmp_path: Path) -> None:
    # By the time subscription_active polls, the app has caught up; the look that
    # checkout_success took while the payment was under way has not.
    ctx = billing_journey(tmp_path, FakeBilling())
    ctx.variables["first_active"] = {"status": "active", "tenant": "free"}
    [result] = run(ctx, subscription_active)
    assert result.status is Status.FAILED, result
    assert result.actual.startswith(
        'while the payment was under way the subscription already said "active" and the '
        "tenant said 'free'"
    )
    assert "first_active" not in ctx.variables


def test_the_look_while_paying_keeps_the_first_active_answer_and_the_tenant_after_it(
    tmp_path: Path,
) -> None:
    from flows.billing import FirstActive

    app = FakeBilling(status="pending", tenant_plan="free")
    ctx = billing_journey(tmp_path, app)

    async def go() -> list[Any]:
        look = FirstActive(ctx)
        await look()
        seen = [look.seen]
        app.status = "active"
        await look()
        app.tenant_plan = "team-monthly"
        await look()  # the first active answer is kept
        seen.append(look.seen)
        await ctx.aclose()
        return seen

    assert asyncio.run(go()) == [None, {"status": "active", "tenant": "free"}]
