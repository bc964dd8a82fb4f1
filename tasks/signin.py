"""How the suite signs each identity in, by the environment's ``auth_method``.

Every identity (``test``, ``other``, ``admin``) ends up as ``Credentials``: the headers
that authenticate a request as it (a bearer token, HTTP Basic, an API key header or the
session's cookies), and the same credential tampered, for the refusal checks.

| auth_method | what it sends | where it comes from |
|---|---|---|
| password | ``Authorization: Bearer`` | the contract's OAuth2 password form post (``auth.login``) |
| basic | ``Authorization: Basic`` | the identity's email and password |
| api_key | ``<api_key_header>: <token>`` | the identity's token |
| static_token | ``Authorization: Bearer`` | the identity's token |
| cookie_session | ``Cookie`` | ``auth.login.page`` (CSRF token), then the form post |
| browser | ``Cookie`` | the browser login (``auth.browser_login``) |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from smoke.config import SmokeConfig
from smoke.outcomes import CheckFailed, CheckSkipped
from smoke.scrub import scrubber
from smoke.spec import Identity, Request
from tasks import browser
from tasks.exchange import exchange, expect, field_of, prepare
from tasks.wire import Credentials, Reply, basic_header, cookie_header

if TYPE_CHECKING:
    from tasks.journey import JourneyContext


def page_credentials(creds: Credentials, session_cookie: str | None) -> Credentials:
    """How a browser would carry ``creds`` to a page of the app.

    A bearer token goes in the page's session cookie when one is named (the way the
    sandbox's pages read it); any other credential, and a token with no cookie named,
    is sent as it is.
    """
    if creds.scheme != "bearer" or not session_cookie or not creds.token:
        return creds
    cookies = {session_cookie: creds.token}
    return Credentials(
        creds.who, "cookie", {"Cookie": cookie_header(cookies)}, token=creds.token, cookies=cookies
    )


def set_cookies(set_cookie_headers: list[str]) -> dict[str, str]:
    """Name and value of every cookie a response sets (expired ones left out)."""
    found: dict[str, str] = {}
    for header in set_cookie_headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        for name, morsel in jar.items():
            if morsel["max-age"] in ("0", "-1") or not morsel.value:
                found.pop(name, None)
            else:
                found[name] = morsel.value
    return found


@dataclass(frozen=True)
class IdentityConfig:
    """One identity's configured login, password and token, with the settings that set them."""

    who: Identity
    email: str
    password: SecretStr | None
    token: SecretStr | None
    settings: tuple[str, str, str]


def identity_config(config: SmokeConfig, who: Identity) -> IdentityConfig:
    """The configured values of identity ``who``."""
    if who == "test":
        return IdentityConfig(
            who,
            config.test_email,
            config.test_password,
            config.static_token,
            ("SMOKE_TEST_EMAIL", "SMOKE_TEST_PASSWORD", "SMOKE_STATIC_TOKEN"),
        )
    if who == "other":
        return IdentityConfig(
            who,
            config.other_email,
            config.other_password,
            config.other_token,
            ("SMOKE_OTHER_EMAIL", "SMOKE_OTHER_PASSWORD", "SMOKE_OTHER_TOKEN"),
        )
    if who == "admin":
        return IdentityConfig(
            who,
            config.admin_email,
            config.admin_password,
            config.admin_token,
            ("SMOKE_ADMIN_EMAIL", "SMOKE_ADMIN_PASSWORD", "SMOKE_ADMIN_TOKEN"),
        )
    raise ValueError(f"no credentials for {who!r}")


WHO_WORDS = {"test": "the test identity", "other": "the other identity", "admin": "the admin"}


async def credentials(ctx: JourneyContext[Any], who: Identity) -> Credentials | None:
    """``who``'s credentials for this journey (signed in once, then cached); None for 'none'.

    A missing setting skips the calling check (off by configuration); a sign-in that
    fails skips it too (prerequisite failed): the auth journey's login checks own that
    failure.
    """
    if who == "none":
        return None
    async with ctx.token_lock:
        if who in ctx.signin_failures:
            raise CheckSkipped(ctx.signin_failures[who], kind="prerequisite")
        if who not in ctx.credentials:
            try:
                ctx.credentials[who] = await sign_in(ctx, who)
            except CheckFailed as f:
                why = f"needs {WHO_WORDS[who]} signed in, and signing in failed: {f.message}"
                ctx.signin_failures[who] = why
                raise CheckSkipped(why, kind="prerequisite") from None
        return ctx.credentials[who]


async def sign_in(ctx: JourneyContext[Any], who: Identity) -> Credentials:
    """Sign ``who`` in by the configured method; CheckFailed when the product refuses."""
    config = ctx.config
    ident = identity_config(config, who)
    method = config.auth_method
    if method in ("static_token", "api_key"):
        if ident.token is None:
            raise CheckSkipped(
                f"needs {WHO_WORDS[who]}'s token (set {ident.settings[2]})", kind="configuration"
            )
        token = ident.token.get_secret_value()
        scrubber.register(token)
        if method == "api_key":
            return Credentials(who, "api_key", {config.api_key_header: token})
        return Credentials(who, "bearer", {"Authorization": f"Bearer {token}"}, token=token)
    if not ident.email or ident.password is None:
        raise CheckSkipped(
            f"needs {WHO_WORDS[who]} (set {ident.settings[0]} and {ident.settings[1]})",
            kind="configuration",
        )
    password = ident.password.get_secret_value()
    if method == "basic":
        header = basic_header(ident.email, password)
        scrubber.register(header.split(" ", 1)[1])
        return Credentials(who, "basic", {"Authorization": header})
    if method == "password":
        token = await login(ctx, ident.email, password)
        return Credentials(who, "bearer", {"Authorization": f"Bearer {token}"}, token=token)
    if method == "cookie_session":
        cookies = await cookie_login(ctx, ident.email, password)
    else:
        cookies = await browser_cookies(ctx, ident.email, password)
    scrubber.register(*cookies.values())
    return Credentials(who, "cookie", {"Cookie": cookie_header(cookies)}, cookies=cookies)


async def login(ctx: JourneyContext[Any], email: str, password: str) -> str:
    """An access token for ``email`` through the configured login request."""
    spec = ctx.suite.auth.login
    reply = await _anonymous(ctx, spec.request, {"email": email, "password": password})
    expect(reply, spec.request, f"login as {email}")
    token = field_of(reply, spec.token_field, f"login as {email}")
    if not isinstance(token, str) or not token:
        raise CheckFailed(
            f"login as {email} returned no token",
            expected=f"a string in {spec.token_field!r}",
            actual=reply.excerpt(),
        )
    scrubber.register(token)
    return token


async def _anonymous(
    ctx: JourneyContext[Any],
    req: Request,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Reply:
    """``req`` sent as nobody: a login is how an identity gets its credentials."""
    return await exchange(
        ctx, prepare(ctx, req, variables, headers=headers), req.expect_status, None
    )


async def cookie_login(ctx: JourneyContext[Any], email: str, password: str) -> dict[str, str]:
    """A form login: the login page (CSRF token and its cookies), then the form post."""
    login = ctx.suite.auth.login
    cookies: dict[str, str] = {}
    variables: dict[str, object] = {"email": email, "password": password}
    if login.page is not None:
        page = await _anonymous(ctx, login.page, variables)
        expect(page, login.page, "the login page")
        cookies = set_cookies(page.set_cookie)
        if login.csrf_pattern:
            found = re.search(login.csrf_pattern, page.text)
            if not found:
                raise CheckFailed(
                    f"the login page {page.path} has no CSRF token",
                    expected=f"a match for {login.csrf_pattern!r}",
                    actual=page.excerpt(),
                    evidence=[page.evidence()],
                )
            variables["csrf"] = found.group(1)
    headers = {"Cookie": cookie_header(cookies)} if cookies else {}
    reply = await _anonymous(ctx, login.request, variables, headers)
    expect(reply, login.request, f"login as {email}")
    cookies |= set_cookies(reply.set_cookie)
    wanted = login.session_cookie
    if (wanted and wanted not in cookies) or not cookies:
        raise CheckFailed(
            f"login as {email} set no session cookie",
            expected=f"a Set-Cookie {wanted or ''}".strip(),
            actual=f"status {reply.status}, cookies: {', '.join(cookies) or 'none'}",
            evidence=[reply.evidence()],
        )
    return cookies


async def browser_cookies(ctx: JourneyContext[Any], email: str, password: str) -> dict[str, str]:
    """Sign in through the browser login; the session is the cookies it leaves."""
    spec = ctx.suite.auth.browser_login
    if spec is None:
        raise CheckSkipped(
            "auth_method 'browser' needs auth.browser_login in the contract", kind="configuration"
        )
    context = await browser.new_context(ctx.config.base_url, ctx.config.start_timeout_s)
    try:
        page = await context.new_page()
        await page.goto(spec.start_path)
        await page.fill(spec.email_selector, email)
        await page.fill(spec.password_selector, password)
        await page.click(spec.submit_selector)
        try:
            await page.wait_for_url(spec.success_url, wait_until="commit")
        except Exception as e:  # Playwright's timeout and navigation errors share no base class  # noqa: BLE001
            raise CheckFailed(
                f"the browser login as {email} did not reach {spec.success_url}",
                expected=f"a redirect to {spec.success_url}",
                actual=f"stayed at {page.url}: {type(e).__name__}",
            ) from None
        cookies = await context.cookies([ctx.config.api_base])
    finally:
        await browser.close_context(context)
    return {str(c["name"]): str(c["value"]) for c in cookies if c.get("name")}
