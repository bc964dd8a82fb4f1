"""The auth checks' judgements through the one HTTP helper, against in-process fakes
(httpx MockTransport, no Prefect run): a wrong password, protected pages signed out, the
tenant name /me reports. The sandbox's mutations prove the same against the real app."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from flows.auth import _api_login_refused, _expect_tenant_name
from smoke.config import SmokeConfig
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.spec import load_spec
from tasks.http import send
from tasks.journey import JourneyContext
from tasks.refusal import _refused_everywhere
from tests.support.samples import COOKIE_LOGIN

EMAIL, PASSWORD, TOKEN = "smoke@example.com", "pw-0123456789", "tok-0123456789abcdef"
Handler = Callable[[httpx.Request], httpx.Response]


def app(
    *, any_password: bool = False, page_open: bool = False, tenant_name: str = "Acme"
) -> Handler:
    """A password-grant API with /api/me, an own tenant and a cookie-session /app page."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/idp/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if form.get("username") == EMAIL and (any_password or form["password"] == PASSWORD):
                return httpx.Response(200, json={"access_token": TOKEN, "token_type": "Bearer"})
            return httpx.Response(401, json={"error": "invalid_grant"})
        if path == "/app":
            if page_open or f"session={TOKEN}" in request.headers.get("cookie", ""):
                return httpx.Response(200, html="<h1>dashboard</h1>")
            return httpx.Response(302, headers={"location": "/login"})
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"detail": "authentication required"})
        if path == "/api/me":
            me = {"id": "u1", "email": EMAIL, "tenant_id": "acme", "tenant_name": tenant_name}
            return httpx.Response(200, json=me)
        if path == "/api/tenants/acme":
            return httpx.Response(200, json={"id": "acme", "name": "Acme", "members": []})
        return httpx.Response(404)

    return handle


def journey(
    tmp_path: Path, handler: Handler, inline: dict[str, Any] | None = None
) -> JourneyContext:
    config = SmokeConfig(
        name="fake",
        base_url="http://app.test",
        auth_method="password",
        test_email=EMAIL,
        test_password=SecretStr(PASSWORD),
    )
    suite = load_spec(inline=inline)
    ctx = JourneyContext("auth", config, suite, tmp_path, suite.auth)
    ctx.http = httpx.AsyncClient(
        base_url=config.api_base,
        transport=httpx.MockTransport(handler),
        cookies=ctx.http.cookies.jar,
    )
    return ctx


def run(ctx: JourneyContext, work: Any) -> Any:
    async def go() -> Any:
        try:
            return await work
        finally:
            await ctx.aclose()

    return asyncio.run(go())


def test_a_refused_wrong_password_passes_and_names_the_answer(tmp_path: Path) -> None:
    ctx = journey(tmp_path, app())
    assert run(ctx, _api_login_refused(ctx, "wrong-0123456789")) == "POST /idp/token -> 401"


def test_a_wrong_password_that_gets_a_token_fails(tmp_path: Path) -> None:
    ctx = journey(tmp_path, app(any_password=True))
    with pytest.raises(CheckFailed) as e:
        run(ctx, _api_login_refused(ctx, "wrong-0123456789"))
    assert e.value.message == (
        "a wrong password was accepted by the login request (POST /idp/token answered 200 "
        "with access_token)"
    )
    assert e.value.expected == "status 400 or 401 and no access_token"


def test_a_refusal_status_that_still_carries_a_token_fails(tmp_path: Path) -> None:
    def token_on_401(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"access_token": TOKEN, "error": "invalid_grant"})

    ctx = journey(tmp_path, token_on_401)
    with pytest.raises(CheckFailed, match="accepted by the login request"):
        run(ctx, _api_login_refused(ctx, "wrong-0123456789"))


PAGES = {
    "auth": {
        "protected_routes": [],
        "protected_pages": [{"path": "/app", "login_redirect": "/login*"}],
    }
}


def test_a_protected_page_is_proven_then_refused_signed_out_and_tampered(tmp_path: Path) -> None:
    for tampered in (False, True):
        ctx = journey(tmp_path, app(), PAGES)

        async def both(ctx: JourneyContext = ctx, tampered: bool = tampered) -> Passed:
            await send(ctx, ctx.suite.auth.me, auth="test")
            return await _refused_everywhere(ctx, tampered=tampered)

        passed = run(ctx, both())
        assert passed.actual.startswith("2 route(s) proven 2xx"), passed.actual
        assert passed.message == 'routes: ["GET /api/me","page /app"]'


def test_a_protected_page_that_renders_signed_out_fails_anonymous_refused(tmp_path: Path) -> None:
    ctx = journey(tmp_path, app(page_open=True), PAGES)

    async def anonymous() -> Passed:
        await send(ctx, ctx.suite.auth.me, auth="test")
        return await _refused_everywhere(ctx, tampered=False)

    with pytest.raises(CheckFailed) as e:
        run(ctx, anonymous())
    assert e.value.message == (
        "1 of 2 route(s) that answered a signed-in identity also answer anonymous callers: "
        "page GET /app -> 200"
    )


def test_a_page_the_test_identity_cannot_open_is_not_counted(tmp_path: Path) -> None:
    inline = {"auth": {"protected_routes": [], "protected_pages": [{"path": "/nowhere"}]}}
    ctx = journey(tmp_path, app(), inline)

    async def anonymous() -> Passed:
        await send(ctx, ctx.suite.auth.me, auth="test")
        return await _refused_everywhere(ctx, tampered=False)

    passed = run(ctx, anonymous())
    assert passed.actual.startswith("1 route(s) proven 2xx"), passed.actual
    assert passed.message.endswith("not counted (the test identity got no 2xx): /nowhere (401)")


def test_me_names_the_own_tenant_by_the_own_tenants_name(tmp_path: Path) -> None:
    ctx = journey(tmp_path, app())

    async def named() -> str:
        me = await send(ctx, ctx.suite.auth.me, auth="test")
        return await _expect_tenant_name(ctx, me)

    assert run(ctx, named()) == ", tenant_name = Acme"


def test_me_naming_another_tenant_fails_me_identity(tmp_path: Path) -> None:
    ctx = journey(tmp_path, app(tenant_name="free"))

    async def named() -> str:
        me = await send(ctx, ctx.suite.auth.me, auth="test")
        return await _expect_tenant_name(ctx, me)

    with pytest.raises(CheckFailed) as e:
        run(ctx, named())
    assert e.value.message == (
        'the identity endpoint names the wrong tenant: tenant_name is "free", the own tenant '
        'is "Acme" (GET /api/tenants/acme name)'
    )


def test_a_configured_tenant_name_is_compared_without_reading_the_tenant(tmp_path: Path) -> None:
    ctx = journey(tmp_path, app(), {"auth": {"tenant_name": {"expected": "Globex"}}})

    async def named() -> str:
        me = await send(ctx, ctx.suite.auth.me, auth="test")
        return await _expect_tenant_name(ctx, me)

    with pytest.raises(
        CheckFailed, match=r'the own tenant is "Globex" \(auth.tenant_name.expected\)'
    ):
        run(ctx, named())


def form_app(*, any_password: bool = False) -> Handler:
    """A form login: a wrong password shows the form again (200) and sets no session."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            form = '<form><input type="hidden" name="csrf" value="tok-123"></form>'
            return httpx.Response(200, html=form, headers={"set-cookie": "csrftoken=c-1; Path=/"})
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form["csrf"] != "tok-123" or "csrftoken=c-1" not in request.headers.get("cookie", ""):
            return httpx.Response(403)
        if any_password or form["password"] == PASSWORD:
            cookie = "sessionid=s-abcdef0123456789; HttpOnly"
            return httpx.Response(302, headers={"location": "/app", "set-cookie": cookie})
        return httpx.Response(200, html="<p>Wrong email or password.</p>")

    return handle


def cookie_journey(tmp_path: Path, handler: Handler, inline: dict[str, Any]) -> JourneyContext:
    ctx = journey(tmp_path, handler, inline)
    ctx.config = ctx.config.model_copy(update={"auth_method": "cookie_session"})
    return ctx


def test_a_form_login_that_sets_no_session_for_a_wrong_password_passes(tmp_path: Path) -> None:
    ctx = cookie_journey(tmp_path, form_app(), COOKIE_LOGIN)
    note = run(ctx, _api_login_refused(ctx, "wrong-0123456789"))
    assert note == "POST /login -> 200, no 'sessionid' cookie"


def test_a_form_login_that_sets_a_session_for_a_wrong_password_fails(tmp_path: Path) -> None:
    ctx = cookie_journey(tmp_path, form_app(any_password=True), COOKIE_LOGIN)
    with pytest.raises(CheckFailed) as e:
        run(ctx, _api_login_refused(ctx, "wrong-0123456789"))
    assert e.value.message == (
        "a wrong password was accepted by the login form (POST /login set the session "
        "cookie 'sessionid')"
    )


def test_a_form_login_without_a_named_session_cookie_cannot_be_judged(tmp_path: Path) -> None:
    unnamed = {"auth": {"login": dict(COOKIE_LOGIN["auth"]["login"], session_cookie=None)}}
    ctx = cookie_journey(tmp_path, form_app(), unnamed)
    with pytest.raises(CheckSkipped) as e:
        run(ctx, _api_login_refused(ctx, "wrong-0123456789"))
    assert e.value.kind == "configuration"
