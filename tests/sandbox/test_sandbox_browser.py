"""The HTML pages in a real Chromium: checkout through localstripe's Stripe.js, passkeys
with Chrome's virtual authenticator, login and the dashboard page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sandbox_test_helpers import (
    CREDENTIALS,
    DECLINED_CARD,
    GOOD_CARD,
    PageWatch,
    bearer,
    onboard,
    password_token,
    subscription,
    wait_for,
)

from sandbox import RunningSandbox


@pytest.fixture
def fresh_user(client: httpx.Client, sandbox: RunningSandbox) -> Iterator[str]:
    email = f"smoke+browser-{uuid.uuid4().hex[:8]}@sandbox.test"
    onboard(client, email, password="pw-browser")
    return password_token(sandbox.base_url, email, "pw-browser")


def fill_card(watch: PageWatch, number: str) -> None:
    page = watch.page
    card = page.locator("#card-element")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")  # Stripe.js stand-in prefixes "20"
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("12345")


def open_checkout(watch: PageWatch, client: httpx.Client, token: str) -> dict[str, str]:
    session: dict[str, str] = client.post(
        "/api/billing/checkout", json={"plan_id": "pro-monthly"}, headers=bearer(token)
    ).json()
    watch.page.goto(session["checkout_url"])
    watch.page.get_by_placeholder("number").wait_for()
    return session


def test_checkout_with_4242_reaches_success_and_the_webhook_activates(
    watched_page: PageWatch, client: httpx.Client, fresh_user: str
) -> None:
    session = open_checkout(watched_page, client, fresh_user)
    fill_card(watched_page, GOOD_CARD)
    watched_page.page.get_by_test_id("checkout-submit").click()
    watched_page.page.get_by_test_id("checkout-success").wait_for(timeout=10_000)
    assert watched_page.page.url == session["success_url"]
    assert subscription(client, fresh_user)["status"] in ("pending", "active")
    active = wait_for(lambda: (s := subscription(client, fresh_user))["status"] == "active" and s)
    assert active["plan_id"] == "pro-monthly"
    assert watched_page.console_errors == []
    assert watched_page.page_errors == []
    assert watched_page.failed_requests == []


def test_checkout_with_a_declined_card_shows_the_error(
    watched_page: PageWatch, client: httpx.Client, fresh_user: str
) -> None:
    session = open_checkout(watched_page, client, fresh_user)
    fill_card(watched_page, DECLINED_CARD)
    watched_page.page.get_by_test_id("checkout-submit").click()
    error = watched_page.page.get_by_test_id("checkout-error")
    error.filter(has_text="declined").wait_for(timeout=10_000)
    assert error.inner_text() == "Your card was declined."
    assert watched_page.page.url == session["checkout_url"]
    assert subscription(client, fresh_user)["status"] == "none"


def test_checkout_cancel_link_returns_the_user_unchanged(
    watched_page: PageWatch, client: httpx.Client, fresh_user: str
) -> None:
    open_checkout(watched_page, client, fresh_user)
    watched_page.page.get_by_test_id("checkout-cancel").click()
    watched_page.page.get_by_test_id("checkout-cancelled").wait_for()
    assert watched_page.page.get_by_test_id("current-plan").inner_text() == "free"
    assert subscription(client, fresh_user)["status"] == "none"


def test_passkey_page_registers_and_signs_in_with_the_virtual_authenticator(
    watched_page: PageWatch, sandbox: RunningSandbox, test_token: str
) -> None:
    page = watched_page.page
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    watched_page.sign_in(sandbox.base_url, test_token)
    page.goto("/passkeys")
    status = page.get_by_test_id("passkey-status")
    page.get_by_test_id("passkey-register").click()
    status.filter(has_text="registered").wait_for(timeout=10_000)

    page.context.clear_cookies()  # a signed-out browser that still holds the passkey
    page.get_by_test_id("passkey-login").click()
    status.filter(has_text="signed in as").wait_for(timeout=10_000)
    assert status.inner_text() == f"signed in as {CREDENTIALS.test_email}"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["session"]["httpOnly"] is True
    assert watched_page.page_errors == []


def test_login_form_reaches_the_dashboard(watched_page: PageWatch) -> None:
    page = watched_page.page
    page.goto("/app")  # anonymous: /login, then the IdP's form
    page.get_by_test_id("login-email").fill(CREDENTIALS.test_email)
    page.get_by_test_id("login-password").fill("wrong")
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("login-error").wait_for()
    page.get_by_test_id("login-password").fill(CREDENTIALS.test_password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_selector('body[data-ready="true"]', timeout=10_000)
    assert page.get_by_test_id("user-email").inner_text() == CREDENTIALS.test_email


def test_dashboard_page_renders_with_no_console_errors_or_failed_requests(
    watched_page: PageWatch, sandbox: RunningSandbox, test_token: str
) -> None:
    watched_page.sign_in(sandbox.base_url, test_token)
    page = watched_page.page
    page.goto("/app")
    page.wait_for_selector('body[data-ready="true"]', timeout=10_000)
    assert page.get_by_test_id("user-email").inner_text() == CREDENTIALS.test_email
    assert page.get_by_test_id("feed-item").count() == 10
    assert page.get_by_test_id("alert-item").count() == 10
    assert page.get_by_test_id("history-item").count() == 10
    for testid in ("dashboard-feed", "dashboard-alerts", "dashboard-history"):
        assert page.get_by_test_id(testid).is_visible()
    assert watched_page.console_errors == []
    assert watched_page.page_errors == []
    assert watched_page.failed_requests == []
