"""Stripe, in test mode only: the interlock, a read-back of subscriptions, webhook signing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

import stripe

from smoke.config import check_test_key

if TYPE_CHECKING:
    from smoke.config import SmokeConfig

STRIPE_TEST_MODE = "test"


def stripe_client(config: SmokeConfig) -> stripe.StripeClient | None:
    """A Stripe client for the environment's test key, or None without a key.

    The key is checked for test mode before the client exists, so no call can ever be
    made with a live key.
    """
    if config.stripe_secret_key is None:
        return None
    check_test_key(config.stripe_secret_key)
    return stripe.StripeClient(
        config.stripe_secret_key.get_secret_value(),
        base_addresses={"api": config.stripe_api_base},
        http_client=stripe.HTTPXClient(timeout=config.http_timeout_s),
        max_network_retries=2,
    )


async def subscription_status(client: stripe.StripeClient, subscription_id: str) -> str:
    """What Stripe itself says about a subscription."""
    sub = await client.v1.subscriptions.retrieve_async(subscription_id)
    return str(sub.status)


async def subscription_plans(client: stripe.StripeClient, subscription_id: str) -> list[str]:
    """The plan (or price) id of each item of a subscription, as Stripe itself has them."""
    sub = await client.v1.subscriptions.retrieve_async(subscription_id)
    plans: list[str] = []
    for item in sub["items"]["data"]:
        fields = item.to_dict()
        # Prices replaced plans; Stripe still returns the plan of a recurring price.
        plan = fields.get("plan") or fields.get("price")
        if plan is not None:
            plans.append(str(plan["id"]))
    return plans


async def customer_subscriptions(
    client: stripe.StripeClient, subscription_id: str, created_since: int = 0
) -> list[str]:
    """The ids of the live (not cancelled) subscriptions of that subscription's customer
    created at or after ``created_since`` (a Unix time)."""
    sub = await client.v1.subscriptions.retrieve_async(subscription_id)
    customer = sub.customer if isinstance(sub.customer, str) else sub.customer.id
    listed = await client.v1.subscriptions.list_async({"customer": customer, "limit": 100})
    return [str(s.id) for s in listed.data if int(s.created) >= created_since]


async def cancel_subscription(client: stripe.StripeClient, subscription_id: str) -> str:
    """Cancel a test subscription directly with Stripe (the safety net after a run)."""
    sub = await client.v1.subscriptions.cancel_async(subscription_id)
    return str(sub.status)


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header computed the way Stripe computes it."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def harmless_event() -> bytes:
    """A webhook event no handler acts on: proves a signed event is accepted."""
    event: dict[str, Any] = {
        "id": f"evt_smoke_{int(time.time() * 1000)}",
        "object": "event",
        "type": "smoke.ping",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"object": "smoke_ping"}},
    }
    return json.dumps(event).encode()
