"""Auth journey: protected routes refuse strangers; login works; sessions and tenants hold."""

from __future__ import annotations

import asyncio
import base64
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response, Route
from prefect import flow

from smoke.results import JourneyResult
from smoke.spec import AuthSpec, Request, render
from tasks.browser import add_virtual_authenticator, api_get, require_own_page, traced_page
from tasks.checks import (
    CheckFailed,
    CheckSkipped,
    Passed,
    check,
    journey_result,
    run_check,
)
from tasks.context import JourneyContext, open_journey
from tasks.http import expect, field_of, login, send, session_token

JOURNEY = "auth"
REFUSED = (401, 403)


def _spec(ctx: JourneyContext) -> AuthSpec:
    assert isinstance(ctx.spec, AuthSpec)
    return ctx.spec


async def _refused_everywhere(ctx: JourneyContext, token: str | None, who: str) -> Passed:
    routes = _spec(ctx).protected_routes
    replies = await asyncio.gather(*(send(ctx, Request(path=r), token=token) for r in routes))
    open_routes = [r for r in replies if r.status not in REFUSED]
    if open_routes:
        worst = open_routes[0]
        raise CheckFailed(
            f"{len(open_routes)} protected route(s) answer {who}: "
            + ", ".join(f"{r.path} ({r.status})" for r in open_routes),
            expected=f"401 or 403 for {who} on {len(routes)} protected routes",
            actual=", ".join(f"{r.path} -> {r.status}" for r in open_routes),
            evidence=[worst.evidence()],
        )
    return Passed(expected=f"401/403 for {who}", actual=f"{len(routes)} routes refused")


@check("anonymous_refused")
async def anonymous_refused(ctx: JourneyContext) -> Passed:
    """Protected routes refuse callers without credentials."""
    return await _refused_everywhere(ctx, None, "anonymous callers")


def tampered(token: str) -> str:
    """The same JWT claims with a signature that does not match them."""
    parts = token.split(".")
    if len(parts) != 3:
        return token + "tampered"
    forged = base64.urlsafe_b64encode(secrets.token_bytes(256)).rstrip(b"=").decode()
    return ".".join([parts[0], parts[1], forged])


@check("bad_token_refused")
async def bad_token_refused(ctx: JourneyContext) -> Passed:
    """Protected routes refuse the test identity's own token with its signature forged."""
    try:
        token = tampered(await session_token(ctx))
    except CheckSkipped:
        token = _spec(ctx).bad_token
    return await _refused_everywhere(ctx, token, "a token with a forged signature")


@check("password_login")
async def password_login(ctx: JourneyContext) -> Passed:
    """The test identity gets a token through the configured login request."""
    config = ctx.config
    if config.auth_method == "static_token":
        raise CheckSkipped("this environment signs in with a static token")
    if not config.test_email or config.test_password is None:
        raise CheckSkipped("no test identity configured (SMOKE_TEST_EMAIL, SMOKE_TEST_PASSWORD)")
    token = await login(ctx, config.test_email, config.test_password.get_secret_value())
    ctx.tokens["test"] = token
    return Passed(expected="an access token for the test identity", actual="access token issued")


@check("me_identity")
async def me_identity(ctx: JourneyContext) -> Passed:
    """The session reaches the identity endpoint as the test identity."""
    spec = _spec(ctx)
    reply = await send(ctx, spec.me, token=await session_token(ctx))
    expect(reply, spec.me, "identity")
    who = field_of(reply, spec.identity_field, "identity")
    if who != ctx.config.test_email:
        raise CheckFailed(
            f"the session is someone else: {spec.identity_field} is {who!r}",
            expected=f"{spec.identity_field} = {ctx.config.test_email!r}",
            actual=f"{spec.identity_field} = {who!r}",
            evidence=[reply.evidence()],
        )
    if isinstance(reply.body, dict) and spec.tenant_field in reply.body:
        ctx.variables["own_tenant"] = reply.body[spec.tenant_field]
    return Passed(
        expected=f"signed in as {ctx.config.test_email}", actual=f"{spec.identity_field} = {who}"
    )


async def _other_tenant(ctx: JourneyContext) -> str:
    config = ctx.config
    if config.other_tenant_id:
        return config.other_tenant_id
    if not config.other_email or config.other_password is None:
        raise CheckSkipped(
            "no second tenant configured (other_tenant_id, or other_email and other_password)"
        )
    token = await login(ctx, config.other_email, config.other_password.get_secret_value())
    reply = await send(ctx, _spec(ctx).me, token=token)
    expect(reply, _spec(ctx).me, "second tenant's identity")
    return str(field_of(reply, _spec(ctx).tenant_field, "second tenant's identity"))


@check("tenant_isolation")
async def tenant_isolation(ctx: JourneyContext) -> Passed:
    """The test tenant can read its own tenant and cannot read the second tenant's."""
    spec = _spec(ctx)
    if spec.tenant_isolation is None:
        raise CheckSkipped("no tenant-isolation request configured")
    token = await session_token(ctx)
    other = await _other_tenant(ctx)
    variables = {"other_tenant": other}
    if spec.own_tenant is not None:
        me = await send(ctx, spec.me, token=token)
        expect(me, spec.me, "identity")
        variables["own_tenant"] = str(field_of(me, spec.tenant_field, "identity"))
        own = await send(ctx, spec.own_tenant, variables, token=token)
        # Without this, an endpoint that refuses everyone would pass as "isolated".
        expect(own, spec.own_tenant, "reading the test identity's own tenant")
    reply = await send(ctx, spec.tenant_isolation, variables, token=token)
    if reply.status not in spec.tenant_isolation.expect_status:
        raise CheckFailed(
            f"the test tenant can read tenant {other!r}'s data: {reply.path} answered {reply.status}",
            expected=f"status {' or '.join(map(str, spec.tenant_isolation.expect_status))} for another tenant",
            actual=f"status {reply.status}: {reply.excerpt()}",
            evidence=[reply.evidence()],
        )
    return Passed(
        expected="own tenant 200, other tenant refused", actual=f"other tenant -> {reply.status}"
    )


async def _fill_login_form(ctx: JourneyContext, page: object) -> None:
    spec = _spec(ctx).browser_login
    assert spec is not None
    config = ctx.config
    if config.test_password is None:
        raise CheckSkipped("no test password configured for the browser login")
    require_own_page(ctx, page, "to type the test password")  # type: ignore[arg-type]
    await page.fill(spec.email_selector, config.test_email)  # type: ignore[attr-defined]
    await page.fill(spec.password_selector, config.test_password.get_secret_value())  # type: ignore[attr-defined]
    await page.click(spec.submit_selector)  # type: ignore[attr-defined]


@check("browser_login")
async def browser_login(ctx: JourneyContext) -> Passed:
    """A browser signs in through the identity provider and comes back through the callback."""
    spec = _spec(ctx)
    if spec.browser_login is None:
        raise CheckSkipped("no browser login configured")
    bl = spec.browser_login
    async with traced_page(ctx, "browser_login") as page:
        await page.goto(bl.start_path)
        await page.wait_for_selector(bl.email_selector)
        await _fill_login_form(ctx, page)
        landed = page.wait_for_url(bl.success_url, wait_until="commit")
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(landed)]
        if bl.error_selector:
            waiters.append(asyncio.ensure_future(page.wait_for_selector(bl.error_selector)))
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if waiters[0] not in done:
            error = await _shown_error(page, bl.error_selector)
            raise CheckFailed(
                f"browser login did not come back to the app: {error or 'no redirect'}",
                expected=f"redirect to {bl.success_url} after signing in",
                actual=f"stayed at {urlsplit(page.url).path}: {error}",
            )
        waiters[0].result()
        await _expect_identity(ctx, page, "after the browser login")
    return Passed(
        expected=f"back at {bl.success_url} as the test identity",
        actual="signed in as the test identity",
    )


async def _shown_error(page: Page, selector: str | None) -> str:
    """The error the page shows, without waiting (the page may be navigating away)."""
    if not selector:
        return ""
    try:
        shown = [t.strip() for t in await page.locator(selector).all_inner_texts() if t.strip()]
    except PlaywrightError:  # the document went away mid-navigation: nothing is shown
        return ""
    return shown[0] if shown else ""


async def _expect_identity(ctx: JourneyContext, page: Page, when: str) -> str:
    """The page's session must be the test identity; returns who it is."""
    spec = _spec(ctx)
    status, body = await api_get(page, render(spec.me.path, ctx.variables))
    who = body.get(spec.identity_field) if isinstance(body, dict) else None
    if who != ctx.config.test_email:
        raise CheckFailed(
            f"{when} the session is not the test identity",
            expected=f"{spec.me.path} as {ctx.config.test_email}",
            actual=f"status {status}, {spec.identity_field} = {who!r}",
        )
    return str(who)


def _forge_state(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, "forged-by-smoke" if k == "state" else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@check("forged_state_rejected")
async def forged_state_rejected(ctx: JourneyContext) -> Passed:
    """The login callback refuses a real code that comes with a forged ``state``.

    The browser signs in for real; the redirect that carries the identity provider's
    answer to the callback is rewritten in flight so its ``state`` is not the one the
    app issued. Playwright does not route redirected requests, so the rewrite happens
    on the response that redirects to the callback.
    """
    spec = _spec(ctx)
    if spec.forged_state is None or spec.browser_login is None:
        raise CheckSkipped("no browser login callback configured")
    fs, bl = spec.forged_state, spec.browser_login
    async with traced_page(ctx, "forged_state_rejected") as page:
        forged: list[str] = []
        callback_statuses: list[int] = []

        async def forge(route: Route) -> None:
            if not route.request.is_navigation_request():
                await route.continue_()
                return
            response = await route.fetch(max_redirects=0)
            location = response.headers.get("location", "")
            if 300 <= response.status < 400 and urlsplit(location).path.endswith(fs.callback_path):
                forged.append(location)
                headers = dict(response.headers) | {"location": _forge_state(location)}
                await route.fulfill(status=response.status, headers=headers, body=b"")
            else:
                await route.fulfill(response=response)

        def on_response(response: Response) -> None:
            if urlsplit(response.url).path.endswith(fs.callback_path):
                callback_statuses.append(response.status)

        page.on("response", on_response)
        await page.route("**/*", forge)
        await page.goto(bl.start_path)
        await page.wait_for_selector(bl.email_selector)
        await _fill_login_form(ctx, page)
        for _ in range(100):
            if callback_statuses or await _shown_error(page, bl.error_selector):
                break
            await asyncio.sleep(0.1)
        await page.unroute("**/*")
        error = await _shown_error(page, bl.error_selector)
        if not forged and error:
            # The login itself fails: browser_login reports that; nothing to forge here.
            raise CheckSkipped(f"could not sign in to reach the callback: {error}")
        if not forged or not callback_statuses:
            raise CheckFailed(
                "the login never redirected to the callback, so a forged state could not be tried",
                expected=f"a redirect to {fs.callback_path}",
                actual=f"stopped at {urlsplit(page.url).path}",
            )
        status = callback_statuses[0]
        me_status, _ = await api_get(page, render(spec.me.path, ctx.variables))
        if status not in fs.expect_status or me_status < 300:
            raise CheckFailed(
                "the login callback accepted a forged state: a login CSRF is possible",
                expected=f"status {' or '.join(map(str, fs.expect_status))} and no session",
                actual=f"callback -> {status}, {spec.me.path} -> {me_status}",
            )
    return Passed(expected="forged state refused", actual=f"callback -> {status}, no session")


@check("passkey_login", writes=True)
async def passkey_login(ctx: JourneyContext) -> Passed:
    """Register a passkey on a virtual authenticator, sign out, sign back in with it."""
    spec = _spec(ctx)
    pk = spec.passkey
    if pk is None:
        raise CheckSkipped("no passkey login configured")
    token = await session_token(ctx)
    async with traced_page(ctx, "passkey_login") as page:
        await add_virtual_authenticator(page)
        if pk.session_cookie:
            await page.context.add_cookies(
                [{"name": pk.session_cookie, "value": token, "url": ctx.config.base_url}]
            )
        await page.goto(pk.page_path)
        status = page.locator(pk.status_selector)
        await page.click(pk.register_selector)
        registered = render(pk.registered_text, ctx.variables)
        await _wait_for_status(page, pk.status_selector, registered, "registering a passkey")
        await page.context.clear_cookies()
        await page.reload()
        await page.click(pk.login_selector)
        signed_in = render(pk.signed_in_text, ctx.variables)
        await _wait_for_status(page, pk.status_selector, signed_in, "signing in with the passkey")
        await _expect_identity(ctx, page, "after the passkey login")
        final = (await status.inner_text()).strip()
    return Passed(expected=signed_in, actual=final)


async def _wait_for_status(page: object, selector: str, wanted: str, doing: str) -> None:
    """Wait until the status line shows ``wanted``; a line starting 'error' fails at once."""
    locator = page.locator(selector)  # type: ignore[attr-defined]
    text = ""
    for _ in range(100):
        text = (await locator.inner_text()).strip()
        if wanted in text or text.lower().startswith("error"):
            break
        await asyncio.sleep(0.1)
    if wanted not in text:
        raise CheckFailed(
            f"{doing} failed: the page says {text!r}",
            expected=f"status {wanted!r}",
            actual=f"status {text!r}",
        )


@flow(name="auth", flow_run_name="auth-{environment}", persist_result=False)
async def auth(environment: str = "sandbox") -> JourneyResult:
    """Anonymous and bad-token callers refused; login by every configured method; tenants."""
    async with open_journey(JOURNEY, environment) as ctx:

        async def api_checks() -> None:
            await asyncio.gather(
                run_check(ctx, anonymous_refused),
                run_check(ctx, bad_token_refused),
                run_check(ctx, password_login),
            )
            await asyncio.gather(run_check(ctx, me_identity), run_check(ctx, tenant_isolation))

        async def browser_checks() -> None:
            # One browser context per journey: its checks take turns.
            await run_check(ctx, browser_login)
            await run_check(ctx, forged_state_rejected)
            await run_check(ctx, passkey_login)

        await asyncio.gather(api_checks(), browser_checks())
        return journey_result(ctx)
