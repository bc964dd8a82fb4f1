"""Each auth_method signs an identity in and sends the right credential, through the one
HTTP helper, against an in-process fake (httpx MockTransport; no Prefect run needed)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from smoke.config import SmokeConfig
from smoke.spec import Request, load_spec
from tasks.http import send
from tasks.journey import JourneyContext
from tasks.signin import credentials
from tests.support.samples import COOKIE_LOGIN

EMAIL, PASSWORD = "smoke@example.com", "pw-0123456789"


def fake_app(request: httpx.Request) -> httpx.Response:
    """A form login with a CSRF token and a cookie session, basic auth and an API key."""
    cookie = request.headers.get("cookie", "")
    if request.url.path == "/login" and request.method == "GET":
        return httpx.Response(
            200,
            html='<form><input type="hidden" name="csrf" value="tok-123"></form>',
            headers={"set-cookie": "csrftoken=c-1; Path=/"},
        )
    if request.url.path == "/login":
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        good = form == {"username": EMAIL, "password": PASSWORD, "csrf": "tok-123"}
        if not good or "csrftoken=c-1" not in cookie:
            return httpx.Response(403, json={"error": "csrf or credentials"})
        return httpx.Response(
            302,
            headers={"location": "/app", "set-cookie": "sessionid=s-abcdef0123456789; HttpOnly"},
        )
    auth = request.headers.get("authorization", "")
    ok = (
        "sessionid=s-abcdef0123456789" in cookie
        or auth == "Basic " + base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode()
        or request.headers.get("x-api-key") == "key-0123456789abcdef"
        or auth == "Bearer tok-0123456789abcdef"
    )
    return httpx.Response(200, json={"email": EMAIL}) if ok else httpx.Response(401)


def journey(tmp_path: Path, method: str, inline: dict[str, Any] | None = None) -> JourneyContext:
    config = SmokeConfig(
        name="fake",
        base_url="http://app.test",
        auth_method=method,  # type: ignore[arg-type]
        test_email=EMAIL,
        test_password=SecretStr(PASSWORD),
        static_token=SecretStr(
            "key-0123456789abcdef" if method == "api_key" else "tok-0123456789abcdef"
        ),
    )
    suite = load_spec(inline=inline)
    ctx = JourneyContext("dashboard", config, suite, tmp_path, suite.dashboard)
    ctx.http = httpx.AsyncClient(
        base_url=config.api_base,
        transport=httpx.MockTransport(fake_app),
        cookies=ctx.http.cookies.jar,  # the journey client's jar, which keeps nothing
    )
    return ctx


@pytest.mark.parametrize(
    ("method", "inline"),
    [("cookie_session", COOKIE_LOGIN), ("basic", None), ("api_key", None), ("static_token", None)],
)
def test_each_method_is_accepted_and_its_tampered_twin_and_anonymous_are_not(
    tmp_path: Path, method: str, inline: dict[str, Any] | None
) -> None:
    async def go() -> tuple[int, int, int, int]:
        ctx = journey(tmp_path, method, inline)
        me = Request(path="/api/me")
        signed = await send(ctx, me, auth="test")
        creds = await credentials(ctx, "test")
        assert creds is not None
        # The client kept no cookie from the login: an anonymous request carries none.
        anonymous = await send(ctx, me)
        tampered = await send(ctx, me, as_credentials=creds.tampered())
        again = await send(ctx, me, as_credentials=creds)
        await ctx.aclose()
        assert list(ctx.authenticated) == [("test", "GET", "/api/me")]
        return signed.status, anonymous.status, tampered.status, again.status

    assert asyncio.run(go()) == (200, 401, 401, 200)


def test_a_login_page_without_its_csrf_token_fails_the_sign_in(tmp_path: Path) -> None:
    inline = {
        "auth": {
            "login": dict(COOKIE_LOGIN["auth"]["login"], csrf_pattern='name="nope" value="([^"]+)"')
        }
    }

    async def go() -> str:
        from tasks.checks import CheckSkipped

        ctx = journey(tmp_path, "cookie_session", inline)
        try:
            await credentials(ctx, "test")
        except CheckSkipped as s:
            return f"{s.kind}: {s}"
        finally:
            await ctx.aclose()
        return "signed in"

    outcome = asyncio.run(go())
    assert outcome.startswith("prerequisite: needs the test identity signed in"), outcome
    assert "has no CSRF token" in outcome
