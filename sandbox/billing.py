"""Billing through Stripe test mode (localstripe): checkout, confirm, webhooks, cancel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import stripe
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from sandbox import pages
from sandbox.auth import CurrentUser, User, tenant_plan
from sandbox.context import SandboxContext, get_sandbox
from sandbox.security import new_id
from sandbox.stripe_gateway import PLANS, PLANS_BY_ID

Sandbox = Annotated[SandboxContext, Depends(get_sandbox)]

PROVISION_DELAY_S = 0.5
DECLINED = "Your card was declined."


class CheckoutBody(BaseModel):
    plan_id: str


class ConfirmBody(BaseModel):
    setup_intent_id: str


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _urls(sandbox: SandboxContext, session_id: str) -> dict[str, str]:
    base = sandbox.public_base_url
    query = urlencode({"session_id": session_id})
    return {
        "checkout_url": f"{base}/billing/checkout/{session_id}",
        "success_url": f"{base}/billing/success?{query}",
        "cancel_url": f"{base}/billing/cancel?{query}",
    }


def _session(sandbox: SandboxContext, session_id: str) -> Any:
    row = sandbox.db.query_one("SELECT * FROM checkout_sessions WHERE id = ?", (session_id,))
    if row is None:
        raise HTTPException(404, f"no checkout session {session_id!r}")
    return row


def _customer_for(sandbox: SandboxContext, user: User) -> str:
    """The user's Stripe customer, created on first checkout and reused after."""
    existing = sandbox.db.scalar("SELECT stripe_customer_id FROM users WHERE id = ?", (user.id,))
    if existing:
        return str(existing)
    customer_id = sandbox.stripe.create_customer(user.email, user.id)
    sandbox.db.execute(
        "UPDATE users SET stripe_customer_id = ? WHERE id = ?", (customer_id, user.id)
    )
    return customer_id


def _record_subscription(
    sandbox: SandboxContext,
    user_id: str,
    plan_id: str,
    stripe_subscription_id: str | None,
    session_id: str,
) -> None:
    sandbox.db.execute(
        "INSERT INTO subscriptions VALUES (?, ?, 'pending', ?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET plan_id = excluded.plan_id, status = 'pending',"
        " stripe_subscription_id = excluded.stripe_subscription_id,"
        " session_id = excluded.session_id, updated_at = excluded.updated_at",
        (user_id, plan_id, stripe_subscription_id, session_id, _now()),
    )


def activate_by_stripe_id(sandbox: SandboxContext, stripe_subscription_id: str) -> None:
    sandbox.db.execute(
        "UPDATE subscriptions SET status = 'active', updated_at = ?"
        " WHERE stripe_subscription_id = ? AND status = 'pending'",
        (_now(), stripe_subscription_id),
    )


def activate_by_user(sandbox: SandboxContext, user_id: str) -> None:
    sandbox.db.execute(
        "UPDATE subscriptions SET status = 'active', updated_at = ?"
        " WHERE user_id = ? AND status = 'pending'",
        (_now(), user_id),
    )


def mark_canceled(sandbox: SandboxContext, stripe_subscription_id: str) -> None:
    sandbox.db.execute(
        "UPDATE subscriptions SET status = 'canceled', updated_at = ?"
        " WHERE stripe_subscription_id = ?",
        (_now(), stripe_subscription_id),
    )


router = APIRouter()


@router.get("/api/billing/plans")
def plans() -> dict[str, Any]:
    return {"plans": [plan.to_json() for plan in PLANS]}


@router.post("/api/billing/checkout", status_code=201)
def checkout(body: CheckoutBody, user: CurrentUser, sandbox: Sandbox) -> dict[str, str]:
    if body.plan_id not in PLANS_BY_ID:
        raise HTTPException(
            400, f"unknown plan_id {body.plan_id!r}; valid plans: {', '.join(PLANS_BY_ID)}"
        )
    customer_id = _customer_for(sandbox, user)
    setup_intent_id, client_secret = sandbox.stripe.create_setup_intent(customer_id)
    session_id = new_id("cs")
    sandbox.db.execute(
        "INSERT INTO checkout_sessions VALUES (?, ?, ?, ?, ?, 'open', ?)",
        (session_id, user.id, body.plan_id, setup_intent_id, client_secret, _now()),
    )
    return {"session_id": session_id, **_urls(sandbox, session_id)}


@router.post("/api/billing/checkout/{session_id}/confirm", response_model=None)
def confirm(session_id: str, body: ConfirmBody, sandbox: Sandbox) -> JSONResponse:
    session = _session(sandbox, session_id)
    if body.setup_intent_id != session["setup_intent_id"]:
        raise HTTPException(400, "setup_intent_id does not belong to this checkout session")
    if session["status"] == "completed":
        raise HTTPException(409, "this checkout session is already completed")
    success_url = _urls(sandbox, session_id)["success_url"]
    status, payment_method = sandbox.stripe.setup_intent_state(body.setup_intent_id)
    user_id, plan_id = session["user_id"], session["plan_id"]

    if status != "succeeded":
        if not sandbox.is_on("billing.decline_accepted"):
            sandbox.db.execute(
                "UPDATE checkout_sessions SET status = 'declined' WHERE id = ?", (session_id,)
            )
            detail = (
                DECLINED
                if status == "canceled"
                else (
                    f"The card was not confirmed (SetupIntent status: {status}). "
                    "Enter the card details and submit again."
                )
            )
            return JSONResponse({"detail": detail}, 402)
        # The fault: take the failed setup for a success and provision without a charge.
        _record_subscription(sandbox, user_id, plan_id, None, session_id)
        sandbox.db.execute(
            "UPDATE checkout_sessions SET status = 'completed' WHERE id = ?", (session_id,)
        )
        sandbox.run_later(PROVISION_DELAY_S, lambda: activate_by_user(sandbox, user_id))
        return JSONResponse({"status": "pending", "redirect": success_url})

    customer_id = sandbox.db.scalar("SELECT stripe_customer_id FROM users WHERE id = ?", (user_id,))
    try:
        subscription_id = sandbox.stripe.subscribe(
            str(customer_id),
            str(payment_method),
            plan_id,
            metadata={"user_id": user_id, "session_id": session_id},
        )
    except stripe.CardError as exc:
        return JSONResponse({"detail": exc.user_message or DECLINED}, 402)
    # Recorded as pending: only the signed webhook makes it active.
    _record_subscription(sandbox, user_id, plan_id, subscription_id, session_id)
    sandbox.db.execute(
        "UPDATE checkout_sessions SET status = 'completed' WHERE id = ?", (session_id,)
    )
    return JSONResponse({"status": "pending", "redirect": success_url})


@router.get("/api/billing/subscription")
def subscription(user: CurrentUser, sandbox: Sandbox) -> dict[str, Any]:
    row = sandbox.db.query_one("SELECT * FROM subscriptions WHERE user_id = ?", (user.id,))
    if row is None:
        return {"status": "none", "plan_id": None, "stripe_subscription_id": None}
    return {
        "status": row["status"],
        "plan_id": row["plan_id"],
        "stripe_subscription_id": row["stripe_subscription_id"],
    }


@router.delete("/api/billing/subscription")
def cancel_subscription(user: CurrentUser, sandbox: Sandbox) -> dict[str, str]:
    row = sandbox.db.query_one("SELECT * FROM subscriptions WHERE user_id = ?", (user.id,))
    if row is None:
        raise HTTPException(404, "there is no subscription to cancel")
    if row["stripe_subscription_id"] and row["status"] != "canceled":
        sandbox.stripe.cancel_subscription(row["stripe_subscription_id"])
    sandbox.db.execute(
        "UPDATE subscriptions SET status = 'canceled', updated_at = ? WHERE user_id = ?",
        (_now(), user.id),
    )
    return {"status": "canceled"}


@router.post("/webhooks/stripe")
async def stripe_webhook(request: Request, sandbox: Sandbox) -> JSONResponse:
    payload = await request.body()
    signature = request.headers.get("stripe-signature")
    try:
        stripe.Webhook.construct_event(
            payload, signature, sandbox.credentials.stripe_webhook_secret
        )
    except (stripe.SignatureVerificationError, ValueError) as exc:
        if not sandbox.is_on("billing.webhook_unsigned_accepted"):
            reason = "missing" if not signature else "invalid"
            return JSONResponse({"detail": f"{reason} Stripe-Signature: {exc}"}, 400)
    try:
        event = json.loads(payload)
        event_type = str(event["type"])
        obj = event["data"]["object"]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"detail": "the body is not a Stripe event"}, 400)
    if sandbox.is_on("billing.webhook_dropped"):
        return JSONResponse({"received": True})
    subscription_id = str(obj.get("id", ""))
    if event_type in ("customer.subscription.created", "customer.subscription.updated"):
        if obj.get("status") == "active":
            # Provision a little later, like a real queue would: clients have to poll.
            sandbox.run_later(
                PROVISION_DELAY_S, lambda: activate_by_stripe_id(sandbox, subscription_id)
            )
    elif event_type == "customer.subscription.deleted":
        await run_in_threadpool(mark_canceled, sandbox, subscription_id)
    return JSONResponse({"received": True})


pages_router = APIRouter()


@pages_router.get("/billing/checkout/{session_id}", response_class=HTMLResponse)
def checkout_page(session_id: str, sandbox: Sandbox) -> HTMLResponse:
    session = _session(sandbox, session_id)
    plan = PLANS_BY_ID[session["plan_id"]]
    config = {
        "publishableKey": sandbox.credentials.stripe_publishable_key,
        "clientSecret": session["client_secret"],
        "setupIntentId": session["setup_intent_id"],
        "confirmUrl": f"/api/billing/checkout/{session_id}/confirm",
    }
    amount = f"{plan.amount / 100:.2f} {plan.currency.upper()} per {plan.interval}"
    return HTMLResponse(
        pages.checkout_page(
            plan_name=plan.name,
            amount=amount,
            stripe_js_url=f"{sandbox.stripe.api_base}/js.stripe.com/v3/",
            config=config,
            cancel_url=_urls(sandbox, session_id)["cancel_url"],
        )
    )


@pages_router.get("/billing/success", response_class=HTMLResponse)
def success_page(sandbox: Sandbox, session_id: str = "") -> HTMLResponse:
    session = _session(sandbox, session_id)
    return HTMLResponse(pages.success_page(PLANS_BY_ID[session["plan_id"]].name))


@pages_router.get("/billing/cancel", response_class=HTMLResponse)
def cancel_page(sandbox: Sandbox, session_id: str = "") -> HTMLResponse:
    if sandbox.is_on("billing.cancel_broken"):
        return HTMLResponse(
            pages.message_page("Internal Server Error", "Something went wrong.", "server-error"),
            500,
        )
    session = _session(sandbox, session_id)
    tenant = sandbox.db.query_one(
        "SELECT t.id, t.plan FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = ?",
        (session["user_id"],),
    )
    current = tenant_plan(sandbox, tenant["id"], tenant["plan"]) if tenant else "free"
    return HTMLResponse(pages.cancel_page(current))
