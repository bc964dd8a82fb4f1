"""A redirect to another origin never carries a credential there.

The target (a logging server on ``localhost``) answers with redirects to a second
logging server on ``127.0.0.1``, another origin and another host to the browser. The
suite's HTTP client must not follow them; the browser, which does follow a page
navigation, must carry no cookie or token there, its API reads must not follow, and
the login form must not be typed into once it has landed on the other origin.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from smoke.config import SmokeConfig
from smoke.errors import ConfigError
from smoke.spec import Request, load_spec
from tests.support.logging_server import LoggingServer, Route, logging_server

TOKEN = "canary-bearer-7c2e91"
PASSWORD = "canary-password-7c2e91"
E2E_TOKEN = "canary-e2e-7c2e91"
COOKIE = "canary-cookie-7c2e91"
CANARIES = (TOKEN, PASSWORD, E2E_TOKEN, COOKIE)

LOGIN_FORM = """<!doctype html><form method="post" action="/steal">
<input data-testid="login-email" name="email"><input data-testid="login-password" name="pw">
<button data-testid="login-submit" type="submit">Sign in</button></form>"""


@pytest.fixture
def servers() -> Iterator[tuple[LoggingServer, LoggingServer]]:
    with logging_server("127.0.0.1") as foreign, logging_server("localhost") as target:
        away = {"Location": f"{foreign.url}/landing"}
        target.routes.update(
            {
                "/redirect": Route(302, away),
                "/idp/token": Route(307, {"Location": f"{foreign.url}/idp/token"}),
                "/e2e/status": Route(307, away),
                "/app": Route(302, {"Location": f"{foreign.url}/app"}),
                "/login": Route(302, {"Location": f"{foreign.url}/login"}),
                "/here": Route(200, {"Content-Type": "text/html"}, "<p>home</p>"),
            }
        )
        foreign.routes.update(
            {
                "/landing": Route(200, body="{}"),
                "/app": Route(200, {"Content-Type": "text/html"}, "<p>elsewhere</p>"),
                "/login": Route(200, {"Content-Type": "text/html"}, LOGIN_FORM),
                "/steal": Route(200, body="thanks"),
            }
        )
        yield target, foreign


def journey_context(target: LoggingServer, tmp_path: Path) -> object:
    from tasks.journey import JourneyContext

    config = SmokeConfig(
        name="staging",
        base_url=target.url,
        test_email="smoke@sandbox.test",
        test_password=SecretStr(PASSWORD),
        e2e_token=SecretStr(E2E_TOKEN),
    )
    suite = load_spec()
    return JourneyContext("auth", config, suite, tmp_path, suite.auth)


def assert_nothing_reached(foreign: LoggingServer) -> None:
    seen = foreign.everything()
    for canary in CANARIES:
        assert canary not in seen, seen
    assert "Authorization" not in seen, seen
    assert "X-E2E-Test-Token" not in seen, seen


def test_the_http_client_does_not_follow_a_redirect_to_another_origin(
    servers: tuple[LoggingServer, LoggingServer], tmp_path: Path
) -> None:
    from tasks.checks import CheckFailed
    from tasks.http import send
    from tasks.signin import login
    from tasks.wire import Credentials

    bearer = Credentials("test", "bearer", {"Authorization": f"Bearer {TOKEN}"}, token=TOKEN)

    target, foreign = servers
    ctx = journey_context(target, tmp_path)

    async def go() -> None:
        reply = await send(ctx, Request(path="/redirect"), as_credentials=bearer)  # type: ignore[arg-type]
        assert reply.status == 302
        e2e = await send(ctx, Request(path="/e2e/status", e2e=True))  # type: ignore[arg-type]
        assert e2e.status == 307
        with pytest.raises(CheckFailed, match="answered 307"):
            await login(ctx, "smoke@sandbox.test", PASSWORD)  # type: ignore[arg-type]
        # A placeholder that turns into an absolute URL at run time is refused too.
        with pytest.raises(ConfigError, match=re.escape("Refusing to send GET http://127.0.0.1")):
            await send(
                ctx,  # type: ignore[arg-type]
                Request(path="{{next}}"),
                {"next": f"{foreign.url}/landing"},
                as_credentials=bearer,
            )
        await ctx.aclose()  # type: ignore[attr-defined]

    asyncio.run(go())
    # The positive twin: the target got every request, with its credentials.
    sent = target.everything()
    assert f"Bearer {TOKEN}" in sent
    assert E2E_TOKEN in sent
    assert PASSWORD in sent
    assert foreign.connections == 0
    assert foreign.requests == []


def test_the_browser_carries_no_credential_to_another_origin(
    servers: tuple[LoggingServer, LoggingServer], tmp_path: Path
) -> None:
    from flows.auth import _fill_login_form
    from tasks.browser import api_get, new_context, shared_browser

    target, foreign = servers
    ctx = journey_context(target, tmp_path)

    async def go() -> None:
        async with shared_browser():
            context = await new_context(target.url, 60.0)
            await context.add_cookies([{"name": "session", "value": COOKIE, "url": target.url}])
            page = await context.new_page()
            await page.goto("/here")
            # A navigation follows the redirect, without the target's cookie.
            await page.goto("/app")
            assert page.url == f"{foreign.url}/app"
            # An API read through the page answers the redirect instead of following it.
            await page.goto(f"{target.url}/here")
            assert (await api_get(page, "/redirect"))[0] == 302
            # A login form that landed on the other origin is not typed into.
            await page.goto("/login")
            assert page.url == f"{foreign.url}/login"
            with pytest.raises(ConfigError, match="Refusing to type the test password"):
                await _fill_login_form(ctx, page)  # type: ignore[arg-type]
            await page.wait_for_timeout(300)
            await context.close()
        await ctx.aclose()  # type: ignore[attr-defined]

    asyncio.run(go())
    assert COOKIE in target.everything()  # the positive twin: the target had the cookie
    pages = [r.path for r in foreign.requests if r.path != "/favicon.ico"]
    assert pages == ["/app", "/login"]
    assert all(r.method == "GET" for r in foreign.requests)  # the form was never posted
    assert_nothing_reached(foreign)
