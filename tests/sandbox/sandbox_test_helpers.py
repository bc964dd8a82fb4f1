"""Helpers shared by the sandbox tests (plain functions, no fixtures)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from sandbox import SandboxCredentials

if TYPE_CHECKING:
    from playwright.sync_api import Page

MARK = uuid.uuid4().hex[:8]
# Unique values, so a test can grep any output for them and prove nothing leaked.
CREDENTIALS = SandboxCredentials(
    e2e_token=f"e2e-token-{MARK}",
    test_password=f"test-password-{MARK}",
    other_password=f"other-password-{MARK}",
    stripe_secret_key=f"sk_test_{MARK}",
    stripe_publishable_key=f"pk_test_{MARK}",
    stripe_webhook_secret=f"whsec_{MARK}",
)
E2E_HEADER = "X-E2E-Test-Token"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


class WaitOnRateLimit(httpx.HTTPTransport):
    """Waits out a 429 (Retry-After) and retries: the whole session shares one e2e quota
    (120 requests in 10 s per client), and only the rate-limit test is about 429s."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(5):
            response = super().handle_request(request)
            if response.status_code != 429:
                return response
            response.close()
            time.sleep(float(response.headers.get("Retry-After", "1")))
        return response


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def password_token(base_url: str, email: str, password: str) -> str:
    response = httpx.post(
        f"{base_url}/idp/token",
        data={
            "grant_type": "password",
            "username": email,
            "password": password,
            "client_id": "smoke-web",
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)


def onboard(client: httpx.Client, email: str, **overrides: Any) -> dict[str, Any]:
    """Run the onboarding chain to the preview; return every step's answer."""
    submitted = {
        "email": email,
        "password": "pw-onboarding",
        "full_name": "Onboarding Tester",
        "workspace_name": "Smoke Works",
        "team_size": 7,
        "role": "engineer",
        "use_case": "release smoke tests",
        **overrides,
    }
    steps: dict[str, Any] = {"submitted": submitted}
    signup = client.post(
        "/api/onboarding/signup", json={k: submitted[k] for k in ("email", "password", "full_name")}
    )
    assert signup.status_code == 201, signup.text
    steps["signup"] = signup.json()
    verify = client.post(
        "/api/onboarding/verify", json={"verification_token": steps["signup"]["verification_token"]}
    )
    assert verify.status_code == 200, verify.text
    token = verify.json()["onboarding_token"]
    steps["verify"] = verify.json()
    workspace = client.post(
        "/api/onboarding/workspace",
        json={
            "onboarding_token": token,
            "workspace_name": submitted["workspace_name"],
            "team_size": submitted["team_size"],
        },
    )
    assert workspace.status_code == 201, workspace.text
    workspace_id = workspace.json()["workspace_id"]
    profile = client.post(
        "/api/onboarding/profile",
        json={
            "onboarding_token": token,
            "workspace_id": workspace_id,
            "role": submitted["role"],
            "use_case": submitted["use_case"],
        },
    )
    assert profile.status_code == 200, profile.text
    complete = client.post(
        "/api/onboarding/complete", json={"onboarding_token": token, "workspace_id": workspace_id}
    )
    assert complete.status_code == 200, complete.text
    steps["complete"] = complete.json()
    preview = client.get(f"/api/onboarding/preview/{complete.json()['preview_id']}")
    assert preview.status_code == 200, preview.text
    steps["preview"] = preview.json()
    return steps


def checkout_config(client: httpx.Client, checkout_url: str) -> dict[str, Any]:
    """The JSON config the checkout page hands its script."""
    page = client.get(checkout_url)
    assert page.status_code == 200, page.text
    marker = '<script id="checkout-config" type="application/json">'
    config: dict[str, Any] = json.loads(page.text.split(marker, 1)[1].split("</script>", 1)[0])
    return config


def confirm_card_like_stripe_js(stripe_api_base: str, config: dict[str, Any], card: str) -> int:
    """What localstripe's Stripe.js does in confirmCardSetup; returns its HTTP status."""
    body = {
        "key": config["publishableKey"],
        "use_stripe_sdk": True,
        "client_secret": config["clientSecret"],
        "payment_method_data": {
            "type": "card",
            "card": {"number": card, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
            "billing_details": {"address": {"postal_code": "12345"}},
        },
    }
    response = httpx.post(
        f"{stripe_api_base}/v1/setup_intents/{config['setupIntentId']}/confirm",
        content=json.dumps(body),
    )
    return response.status_code


def pay(
    client: httpx.Client, stripe_api_base: str, token: str, card: str, plan_id: str = "pro-monthly"
) -> tuple[dict[str, Any], httpx.Response]:
    """Checkout with ``card`` without a browser: (checkout answer, confirm response)."""
    checkout = client.post(
        "/api/billing/checkout", json={"plan_id": plan_id}, headers=bearer(token)
    )
    assert checkout.status_code == 201, checkout.text
    session = checkout.json()
    config = checkout_config(client, session["checkout_url"])
    confirm_card_like_stripe_js(stripe_api_base, config, card)
    confirm = client.post(
        f"/api/billing/checkout/{session['session_id']}/confirm",
        json={"setup_intent_id": config["setupIntentId"]},
    )
    return session, confirm


def subscription(client: httpx.Client, token: str) -> dict[str, Any]:
    response = client.get("/api/billing/subscription", headers=bearer(token))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@dataclass
class PageWatch:
    """What a page did that a smoke check would flag."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def sign_in(self, base_url: str, token: str) -> None:
        """Give the page's context a session cookie, as a login would."""
        self.page.context.add_cookies(
            [{"name": "session", "value": token, "url": base_url, "httpOnly": True}]
        )
