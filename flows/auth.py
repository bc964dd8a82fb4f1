"""Auth journey: protected routes refuse strangers; login works; sessions and tenants hold."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response, Route
from prefect import State, flow

from smoke.contracts import as_json
from smoke.errors import PreconditionError
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.results import JourneyResult
from smoke.spec import AuthSpec, Identity, field_value, render, request_placeholders
from tasks.browser import add_virtual_authenticator, api_get, require_own_page, traced_page
from tasks.checks import journey_checks, journey_outcome, run_check
from tasks.context import open_journey
from tasks.http import expect, field_of, send, session_token
from tasks.journey import JourneyContext
from tasks.sequences import journey_frame
from tasks.signin import WHO_WORDS, sign_in

JOURNEY = "auth"
check = journey_checks(JOURNEY)
Ctx = JourneyContext[AuthSpec]
CHECKS = [
    "password_login",
    "me_identity",
    "tenant_isolation",
    "browser_login",
    "forged_state_rejected",
    "passkey_login",
]


@check("password_login")
async def password_login(ctx: Ctx) -> Passed:
    """Invariant: the test identity signs in by the configured login (the OAuth2 password
    form post, or the cookie-session form with its CSRF token) and gets a credential.

    Methods without a login step (basic, api_key, static_token) are not applicable:
    me_identity proves their credential is accepted.
    """
    config = ctx.config
    if config.auth_method not in ("password", "cookie_session"):
        raise CheckSkipped(
            f"auth_method {config.auth_method!r} has no login step (me_identity proves it)",
            kind="not_applicable",
        )
    if not config.test_email or config.test_password is None:
        raise CheckSkipped(
            "no test identity configured (SMOKE_TEST_EMAIL, SMOKE_TEST_PASSWORD)",
            kind="configuration",
        )
    async with ctx.token_lock:
        try:
            creds = await sign_in(ctx, "test")
        except CheckFailed as f:
            # The other checks then skip (prerequisite failed) instead of signing in again.
            ctx.signin_failures["test"] = f"needs the test identity signed in: {f.message}"
            raise
        ctx.credentials["test"] = creds
    what = "an access token" if creds.scheme == "bearer" else "a session cookie"
    return Passed(expected=f"{what} for the test identity", actual=f"{what} issued")


@check("me_identity")
async def me_identity(ctx: Ctx) -> Passed:
    """Invariant: the test identity's credential reaches the identity endpoint (2xx, its
    contract) and the endpoint says it is the test identity, not someone else."""
    spec = ctx.spec
    reply = await send(ctx, spec.me, auth="test")
    expect(reply, spec.me, "identity")
    who = field_of(reply, spec.identity_field, "identity")
    wanted = render(spec.identity_value, ctx.variables)
    if who != wanted:
        raise CheckFailed(
            f"the session is someone else: {spec.identity_field} is {as_json(who)}",
            expected=f"{spec.identity_field} = {as_json(wanted)}",
            actual=f"{spec.identity_field} = {as_json(who)}",
            evidence=[reply.evidence()],
        )
    if isinstance(reply.body, dict) and spec.tenant_field in reply.body:
        ctx.variables["own_tenant"] = reply.body[spec.tenant_field]
    return Passed(expected=f"signed in as {wanted}", actual=f"{spec.identity_field} = {who}")


async def _tenant_of(ctx: Ctx, who: Identity) -> str:
    """The tenant of ``who`` as the identity endpoint reports it."""
    spec = ctx.spec
    reply = await send(ctx, spec.me, auth=who)
    expect(reply, spec.me, f"{WHO_WORDS[who]}'s identity")
    return str(field_of(reply, spec.tenant_field, f"{WHO_WORDS[who]}'s identity"))


@check("tenant_isolation")
async def tenant_isolation(ctx: Ctx) -> Passed:
    """Invariant: another tenant's resource exists and its owner can read it, and the test
    identity cannot (it gets one of the refusal statuses). With ``own_tenant`` also: the
    test identity reads its own tenant, so the endpoint does not simply refuse everyone.

    Without the other identity's credentials the resource cannot be proven to exist, and
    the check is skipped: a refusal of a resource that may not exist proves nothing.
    """
    spec = ctx.spec
    isolation = spec.tenant_isolation
    if isolation is None:
        raise CheckSkipped("no tenant-isolation request configured", kind="not_applicable")
    variables: dict[str, Any] = {}
    needs = request_placeholders(isolation)
    if "other_tenant" in needs:
        variables["other_tenant"] = ctx.config.other_tenant_id or await _tenant_of(ctx, "other")
    if spec.own_tenant is not None:
        variables["own_tenant"] = await _tenant_of(ctx, "test")
        own = await send(ctx, spec.own_tenant, variables, auth="test")
        expect(own, spec.own_tenant, "reading the test identity's own tenant")
    owner_req = isolation.model_copy(update={"expect_status": [200, 201, 202, 203, 204, 206]})
    owner = await send(ctx, owner_req, variables, auth="other")
    if not owner.ok:
        raise PreconditionError(
            f"the other identity cannot read its own resource ({owner.method} {owner.path} "
            f"answered {owner.status}), so a refusal to the test identity would prove nothing. "
            "Fix auth.tenant_isolation to name a resource the other identity owns."
        )
    reply = await send(ctx, isolation, variables, auth="test")
    refused = isolation.expect_status
    if reply.status not in refused:
        raise CheckFailed(
            f"the test identity can read another tenant's resource: {reply.method} {reply.path} "
            f"answered {reply.status}",
            expected=f"status {' or '.join(map(str, refused))} for the test identity "
            "on another tenant's resource",
            actual=f"status {reply.status}: {reply.excerpt()}",
            evidence=[reply.evidence()],
        )
    return Passed(
        expected="the owner reads it, the test identity is refused",
        actual=f"owner -> {owner.status}, test identity -> {reply.status}",
    )


async def _fill_login_form(ctx: Ctx, page: Page) -> None:
    spec = ctx.spec.browser_login
    assert spec is not None
    config = ctx.config
    if config.test_password is None:
        raise CheckSkipped(
            "no test password configured for the browser login", kind="configuration"
        )
    require_own_page(ctx, page, "to type the test password")
    await page.fill(spec.email_selector, config.test_email)
    await page.fill(spec.password_selector, config.test_password.get_secret_value())
    await page.click(spec.submit_selector)


@check("browser_login")
async def browser_login(ctx: Ctx) -> Passed:
    """Invariant: a browser signs in on the login page, comes back through the callback
    to ``success_url``, and the page's session is the test identity."""
    spec = ctx.spec
    if spec.browser_login is None:
        raise CheckSkipped("no browser login configured", kind="not_applicable")
    bl = spec.browser_login
    async with traced_page(ctx) as page:
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


async def _expect_identity(ctx: Ctx, page: Page, when: str) -> str:
    """The page's session must be the test identity; returns who it is."""
    spec = ctx.spec
    status, body = await api_get(page, render(spec.me.path, ctx.variables))
    try:
        who = field_value(body, spec.identity_field)
    except (KeyError, IndexError, ValueError, TypeError):
        who = None
    wanted = render(spec.identity_value, ctx.variables)
    if who != wanted:
        raise CheckFailed(
            f"{when} the session is not the test identity",
            expected=f"{spec.me.path} as {as_json(wanted)}",
            actual=f"status {status}, {spec.identity_field} = {as_json(who)}",
        )
    return str(who)


def _forge_state(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, "forged-by-smoke" if k == "state" else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@check("forged_state_rejected")
async def forged_state_rejected(ctx: Ctx) -> Passed:
    """Invariant: the login callback refuses a real code that comes with a forged
    ``state`` (an expected refusal status) and leaves no session behind; the positive
    twin is the real login reaching the callback in the same attempt.

    The browser signs in for real; the redirect that carries the identity provider's
    answer to the callback is rewritten in flight so its ``state`` is not the one the
    app issued. Playwright does not route redirected requests, so the rewrite happens
    on the response that redirects to the callback.
    """
    spec = ctx.spec
    if spec.forged_state is None or spec.browser_login is None:
        raise CheckSkipped("no browser login callback configured", kind="not_applicable")
    fs, bl = spec.forged_state, spec.browser_login
    async with traced_page(ctx) as page:
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
            raise CheckSkipped(
                f"could not sign in to reach the callback: {error}", kind="prerequisite"
            )
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


@check("passkey_login")
async def passkey_login(ctx: Ctx) -> Passed:
    """Invariant: a passkey registered on a virtual authenticator signs the test identity
    back in after signing out, and the page's session is the test identity."""
    spec = ctx.spec
    pk = spec.passkey
    if pk is None:
        raise CheckSkipped("no passkey login configured", kind="not_applicable")
    token = await session_token(ctx)
    async with traced_page(ctx) as page:
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


async def _wait_for_status(page: Page, selector: str, wanted: str, doing: str) -> None:
    """Wait until the status line shows ``wanted``; a line starting 'error' fails at once."""
    locator = page.locator(selector)
    text = ""
    for _ in range(100):
        text = (await locator.inner_text()).strip()
        if wanted in text or text.lower().startswith("error"):
            break
        await asyncio.sleep(0.1)
    if wanted not in text:
        raise CheckFailed(
            f"{doing} failed: the page says {as_json(text)}",
            expected=f"status {as_json(wanted)}",
            actual=f"status {as_json(text)}",
        )


@flow(name="auth", flow_run_name="auth-{environment}", persist_result=False)
async def auth(environment: str = "sandbox") -> State[JourneyResult]:
    """Anonymous and bad-token callers refused; login by every configured method; tenants.

    Args:
        environment: The environment to test: a SmokeEnvironment block's name. `sandbox`
            starts a local sandbox for this run and stops it afterwards.
    """
    async with (
        open_journey(JOURNEY, environment, AuthSpec) as ctx,
        journey_frame(ctx, CHECKS) as ready,
    ):

        async def api_checks() -> None:
            await run_check(ctx, password_login)
            await asyncio.gather(run_check(ctx, me_identity), run_check(ctx, tenant_isolation))

        async def browser_checks() -> None:
            # One browser context per journey: its checks take turns.
            await run_check(ctx, browser_login)
            await run_check(ctx, forged_state_rejected)
            await run_check(ctx, passkey_login)

        if ready:
            await asyncio.gather(api_checks(), browser_checks())
    return await journey_outcome(ctx)
