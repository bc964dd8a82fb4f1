"""The onboarding chain and billing through real localstripe, real webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sandbox_test_helpers import (
    CREDENTIALS,
    DECLINED_CARD,
    GOOD_CARD,
    bearer,
    onboard,
    password_token,
    pay,
    subscription,
    wait_for,
)

from sandbox import RunningSandbox


def unique_email(label: str) -> str:
    return f"smoke+{label}-{uuid.uuid4().hex[:8]}@sandbox.test"


@pytest.fixture
def fresh_user(client: httpx.Client, sandbox: RunningSandbox) -> Iterator[str]:
    """An access token for a brand-new reserved identity, so billing tests don't share state."""
    email = unique_email("billing")
    onboard(client, email, password="pw-billing")
    return password_token(sandbox.base_url, email, "pw-billing")


def test_onboarding_chain_feeds_each_step_into_the_next(
    client: httpx.Client, e2e: httpx.Client
) -> None:
    email = unique_email("onboarding")
    steps = onboard(client, email)
    assert steps["signup"]["user_id"] == steps["verify"]["user_id"]
    preview = steps["preview"]
    submitted = steps["submitted"]
    assert preview == {
        "preview_id": steps["complete"]["preview_id"],
        "email": email,
        "full_name": submitted["full_name"],
        "workspace_name": submitted["workspace_name"],
        "team_size": submitted["team_size"],
        "role": submitted["role"],
        "use_case": submitted["use_case"],
    }
    html = client.get(steps["complete"]["preview_url"])
    assert html.status_code == 200
    for field in ("email", "full_name", "workspace_name", "team_size", "role", "use_case"):
        assert f'data-testid="preview-{field}"' in html.text
    assert submitted["use_case"] in html.text
    inbox = e2e.get("/e2e/inbox", params={"to": email}).json()["messages"]
    assert len(inbox) == 1
    assert inbox[0]["to"] == email
    assert "Smoke Works" in inbox[0]["subject"]
    assert steps["complete"]["preview_id"] in inbox[0]["body"]
    assert set(inbox[0]) == {"to", "from", "subject", "body", "received_at"}


def test_onboarding_rejects_duplicates_and_wrong_tokens(client: httpx.Client) -> None:
    email = unique_email("dup")
    onboard(client, email)
    again = client.post(
        "/api/onboarding/signup", json={"email": email, "password": "x", "full_name": "X"}
    )
    assert again.status_code == 409
    assert (
        client.post("/api/onboarding/verify", json={"verification_token": "nope"}).status_code
        == 401
    )
    assert client.post("/api/onboarding/verify", json={}).status_code == 401
    for path, body in (
        ("/api/onboarding/workspace", {"workspace_name": "W", "team_size": 1}),
        ("/api/onboarding/profile", {"workspace_id": "ws_x", "role": "r", "use_case": "u"}),
        ("/api/onboarding/complete", {"workspace_id": "ws_x"}),
    ):
        assert client.post(path, json={**body, "onboarding_token": "wrong"}).status_code == 401
        assert client.post(path, json=body).status_code == 401


def test_plans_list_localstripe_plans(client: httpx.Client, sandbox: RunningSandbox) -> None:
    plans = client.get("/api/billing/plans").json()["plans"]
    assert [p["id"] for p in plans] == ["pro-monthly", "team-monthly"]
    assert plans[0] == {
        "id": "pro-monthly",
        "name": "Pro",
        "amount": 2900,
        "currency": "usd",
        "interval": "month",
    }
    in_stripe = httpx.get(
        f"{sandbox.stripe_api_base}/v1/plans/pro-monthly",
        headers=bearer(CREDENTIALS.stripe_secret_key),
    )
    assert in_stripe.json()["amount"] == 2900


def test_checkout_success_is_activated_by_the_signed_webhook(
    client: httpx.Client, sandbox: RunningSandbox, fresh_user: str
) -> None:
    assert subscription(client, fresh_user)["status"] == "none"
    session, confirm = pay(client, sandbox.stripe_api_base, fresh_user, GOOD_CARD)
    assert set(session) == {"session_id", "checkout_url", "success_url", "cancel_url"}
    assert confirm.status_code == 200, confirm.text
    assert confirm.json() == {"status": "pending", "redirect": session["success_url"]}
    started = time.monotonic()
    pending = subscription(client, fresh_user)
    assert pending["status"] == "pending"
    active = wait_for(lambda: (s := subscription(client, fresh_user))["status"] == "active" and s)
    # localstripe posts the webhook after ~1 s, the app provisions ~0.5 s later.
    assert 1.0 <= time.monotonic() - started <= 6.0
    assert active["plan_id"] == "pro-monthly"
    assert active["stripe_subscription_id"].startswith("sub_")
    in_stripe = httpx.get(
        f"{sandbox.stripe_api_base}/v1/subscriptions/{active['stripe_subscription_id']}",
        headers=bearer(CREDENTIALS.stripe_secret_key),
    ).json()
    assert in_stripe["status"] == "active"
    success = client.get(session["success_url"])
    assert success.status_code == 200
    assert 'data-testid="checkout-success"' in success.text

    canceled = client.delete("/api/billing/subscription", headers=bearer(fresh_user))
    assert canceled.status_code == 200
    assert canceled.json() == {"status": "canceled"}
    assert subscription(client, fresh_user)["status"] == "canceled"
    in_stripe = httpx.get(
        f"{sandbox.stripe_api_base}/v1/subscriptions/{active['stripe_subscription_id']}",
        headers=bearer(CREDENTIALS.stripe_secret_key),
    ).json()
    assert in_stripe["status"] == "canceled"


def test_declined_card_gives_a_clear_error_and_no_subscription(
    client: httpx.Client, sandbox: RunningSandbox, fresh_user: str
) -> None:
    _, confirm = pay(client, sandbox.stripe_api_base, fresh_user, DECLINED_CARD)
    assert confirm.status_code == 402
    assert confirm.json() == {"detail": "Your card was declined."}
    time.sleep(1.8)  # longer than a webhook + provisioning would take
    assert subscription(client, fresh_user) == {
        "status": "none",
        "plan_id": None,
        "stripe_subscription_id": None,
    }


def test_unconfirmed_setup_is_refused(client: httpx.Client, fresh_user: str) -> None:
    session = client.post(
        "/api/billing/checkout", json={"plan_id": "team-monthly"}, headers=bearer(fresh_user)
    ).json()
    page = client.get(session["checkout_url"]).text
    setup_intent_id = page.split('"setupIntentId": "', 1)[1].split('"', 1)[0]
    confirm = client.post(
        f"/api/billing/checkout/{session['session_id']}/confirm",
        json={"setup_intent_id": setup_intent_id},
    )
    assert confirm.status_code == 402
    assert "requires_payment_method" in confirm.json()["detail"]
    wrong = client.post(
        f"/api/billing/checkout/{session['session_id']}/confirm",
        json={"setup_intent_id": "seti_other"},
    )
    assert wrong.status_code == 400


def test_checkout_page_and_cancel_page(
    client: httpx.Client, sandbox: RunningSandbox, fresh_user: str
) -> None:
    session = client.post(
        "/api/billing/checkout", json={"plan_id": "pro-monthly"}, headers=bearer(fresh_user)
    ).json()
    page = client.get(session["checkout_url"]).text
    assert f'src="{sandbox.stripe_api_base}/js.stripe.com/v3/"' in page
    for testid in ("checkout-submit", "checkout-cancel", "checkout-error"):
        assert f'data-testid="{testid}"' in page
    assert 'id="card-element"' in page
    assert CREDENTIALS.stripe_secret_key not in page
    cancel = client.get(session["cancel_url"])
    assert cancel.status_code == 200
    assert 'data-testid="checkout-cancelled"' in cancel.text
    assert 'data-testid="current-plan">free<' in cancel.text
    assert subscription(client, fresh_user)["status"] == "none"


def test_checkout_validates_plan_and_auth(client: httpx.Client, fresh_user: str) -> None:
    assert client.post("/api/billing/checkout", json={"plan_id": "pro-monthly"}).status_code == 401
    unknown = client.post(
        "/api/billing/checkout", json={"plan_id": "gold"}, headers=bearer(fresh_user)
    )
    assert unknown.status_code == 400
    assert "pro-monthly" in unknown.json()["detail"]
    assert client.delete("/api/billing/subscription", headers=bearer(fresh_user)).status_code == 404


def signed(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = timestamp or int(time.time())
    signature = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={signature}"


def event(kind: str, obj: dict[str, object]) -> bytes:
    return json.dumps(
        {"id": "evt_test", "object": "event", "type": kind, "data": {"object": obj}}
    ).encode()


def test_webhook_rejects_missing_and_wrong_signatures(client: httpx.Client) -> None:
    payload = event("customer.subscription.created", {"id": "sub_x", "status": "active"})
    missing = client.post("/webhooks/stripe", content=payload)
    assert missing.status_code == 400
    wrong = client.post(
        "/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": signed(payload, "whsec_wrong")},
    )
    assert wrong.status_code == 400
    stale = client.post(
        "/webhooks/stripe",
        content=payload,
        headers={
            "Stripe-Signature": signed(
                payload, CREDENTIALS.stripe_webhook_secret, int(time.time()) - 3600
            )
        },
    )
    assert stale.status_code == 400


def test_signed_webhooks_are_processed_and_unknown_types_ignored(client: httpx.Client) -> None:
    payload = event("invoice.paid", {"id": "in_x"})
    ok = client.post(
        "/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": signed(payload, CREDENTIALS.stripe_webhook_secret)},
    )
    assert ok.status_code == 200
    assert ok.json() == {"received": True}
