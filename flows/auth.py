"""Auth journey: protected routes refuse strangers; login works; sessions and tenants hold."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response, Route
from prefect import State, flow

from smoke import origins
from smoke.auth_rules import (
    jwt_segments,
    mentions,
    oidc_endpoints,
    same_endpoint,
    with_redirect_host,
)
from smoke.contracts import as_json
from smoke.errors import PreconditionError
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.results import JourneyResult, Status
from smoke.retry import TransientError
from smoke.scrub import scrubber
from smoke.spec import AuthSpec, Identity, Request, field_value, render, request_placeholders
from tasks.browser import add_virtual_authenticator, api_get, require_own_page, traced_page
from tasks.checks import journey_checks, journey_outcome, run_check
from tasks.context import open_journey
from tasks.http import Reply, expect, field_of, send, session_token
from tasks.journey import JourneyContext
from tasks.sequences import journey_frame
from tasks.signin import WHO_WORDS, cookie_header, set_cookies, sign_in

JOURNEY = "auth"
check = journey_checks(JOURNEY)
Ctx = JourneyContext[AuthSpec]
CHECKS = [
    "password_login",
    "me_identity",
    "tenant_isolation",
    "browser_login",
    "sign_out_ends_session",
    "forged_state_rejected",
    "foreign_redirect_refused",
    "discovery_endpoints",
    "passkey_login",
    "wrong_password_refused",
]
# Statuses that mean a check proved what it promises in this run (a positive twin).
PROVEN = (Status.PASSED, Status.FLAKY, Status.DEGRADED)


def _proven(ctx: Ctx, name: str) -> bool:
    """Whether check ``name`` of this journey passed earlier in this run."""
    return any(r.check == name and r.status in PROVEN for r in ctx.results)


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
    contract) and every identity field the suite can know is the test identity's: the
    identity field is the test identity, not someone else, and with ``tenant_name`` the
    tenant's name is its own tenant's (the configured name, else the name the own tenant
    resource gives, read as the test identity)."""
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
    named = ""
    if spec.tenant_name is not None:
        named = await _expect_tenant_name(ctx, reply)
    return Passed(
        expected=f"signed in as {wanted}" + (", of its own tenant" if named else ""),
        actual=f"{spec.identity_field} = {who}{named}",
    )


async def _expect_tenant_name(ctx: Ctx, me: Reply) -> str:
    """The identity answer's tenant name must be the own tenant's; returns a note."""
    spec = ctx.spec
    tn = spec.tenant_name
    assert tn is not None
    shown = field_of(me, tn.field, "identity")
    if tn.expected is not None:
        wanted, source = render(tn.expected, ctx.variables), "auth.tenant_name.expected"
    else:
        assert spec.own_tenant is not None  # load_spec refuses a tenant_name without either
        own_id = field_of(me, spec.tenant_field, "identity")
        own = await send(ctx, spec.own_tenant, {"own_tenant": own_id}, auth="test")
        expect(own, spec.own_tenant, "reading the test identity's own tenant")
        wanted = field_of(own, tn.own_tenant_field, "the test identity's own tenant")
        source = f"{own.method} {own.path} {tn.own_tenant_field}"
    if shown != wanted:
        raise CheckFailed(
            f"the identity endpoint names the wrong tenant: {tn.field} is {as_json(shown)}, "
            f"the own tenant is {as_json(wanted)} ({source})",
            expected=f"{tn.field} = {as_json(wanted)}",
            actual=f"{tn.field} = {as_json(shown)}",
            evidence=[me.evidence()],
        )
    return f", {tn.field} = {shown}"


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
    test identity reads its own tenant, so the endpoint does not simply refuse everyone,
    and that answer holds nothing of the other tenant: the other identity's email (when
    one is configured) appears in none of its values.

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
    own: Reply | None = None
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
    other_email = ctx.config.other_email
    if own is not None and other_email:
        leaks = mentions(own.body if own.is_json else own.text, other_email)
        if leaks:
            raise CheckFailed(
                f"the test identity's own tenant shows another tenant's data: {own.method} "
                f"{own.path} names the other identity {as_json(other_email)}",
                expected="nothing of the other tenant in the own tenant's answer",
                actual=f"the other identity's email at {', '.join(leaks[:3])}",
                evidence=[own.evidence()],
            )
    return Passed(
        expected="the owner reads it, the test identity is refused"
        + (", its own tenant shows nothing of the other" if own is not None else ""),
        actual=f"owner -> {owner.status}, test identity -> {reply.status}",
    )


async def _fill_login_form(ctx: Ctx, page: Page, password: str | None = None) -> None:
    """Type the test identity's email and ``password`` (its own by default), and submit."""
    spec = ctx.spec.browser_login
    assert spec is not None
    config = ctx.config
    if password is None:
        if config.test_password is None:
            raise CheckSkipped(
                "no test password configured for the browser login", kind="configuration"
            )
        password = config.test_password.get_secret_value()
    require_own_page(ctx, page, "to type the test password")
    await page.fill(spec.email_selector, config.test_email)
    await page.fill(spec.password_selector, password)
    await page.click(spec.submit_selector)


async def _login_outcome(ctx: Ctx, page: Page, wrong_password: bool) -> str | None:
    """After the login form is submitted: None once the page reaches ``success_url``,
    else the error it shows (empty when it shows none). Waits for whichever comes
    first, the success URL or the error.

    For the right password, never arriving is raised as it came (a timeout is retried);
    for a wrong one it is the expected outcome, and without an error to wait for it is
    waited for 5 s only.
    """
    bl = ctx.spec.browser_login
    assert bl is not None
    bound = 5_000 if wrong_password and not bl.error_selector else None
    landed = page.wait_for_url(bl.success_url, wait_until="commit", timeout=bound)
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(landed)]
    if bl.error_selector:
        waiters.append(asyncio.ensure_future(page.wait_for_selector(bl.error_selector)))
    done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for w in pending:
        w.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if waiters[0] in done:
        if waiters[0].exception() is None:
            return None
        if not wrong_password:
            waiters[0].result()
    return await _shown_error(page, bl.error_selector)


async def _browser_sign_in(ctx: Ctx, page: Page, password: str | None = None) -> str | None:
    """Open the login start and sign in as the test identity (see ``_login_outcome``)."""
    bl = ctx.spec.browser_login
    assert bl is not None
    await page.goto(bl.start_path)
    await page.wait_for_selector(bl.email_selector)
    await _fill_login_form(ctx, page, password)
    return await _login_outcome(ctx, page, wrong_password=password is not None)


@check("browser_login")
async def browser_login(ctx: Ctx) -> Passed:
    """Invariant: a browser signs in on the login page, comes back through the callback
    to ``success_url``, and the page's session is the test identity."""
    spec = ctx.spec
    if spec.browser_login is None:
        raise CheckSkipped("no browser login configured", kind="not_applicable")
    bl = spec.browser_login
    async with traced_page(ctx) as page:
        error = await _browser_sign_in(ctx, page)
        if error is not None:
            raise CheckFailed(
                f"browser login did not come back to the app: {error or 'no redirect'}",
                expected=f"redirect to {bl.success_url} after signing in",
                actual=f"stayed at {urlsplit(page.url).path}: {error}",
            )
        await _expect_identity(ctx, page, "after the browser login")
    return Passed(
        expected=f"back at {bl.success_url} as the test identity",
        actual="signed in as the test identity",
    )


def _wrong_password() -> str:
    """A password the test identity certainly does not have (registered as a secret)."""
    wrong = f"smoke-wrong-{secrets.token_hex(8)}"
    scrubber.register(wrong)
    return wrong


async def _api_login_refused(ctx: Ctx, wrong: str) -> str:
    """The login request with a wrong password must give no credential; returns a note."""
    login = ctx.spec.login
    variables = {"email": ctx.config.test_email, "password": wrong}
    if ctx.config.auth_method == "cookie_session":
        return await _cookie_login_refused(ctx, login.request, variables)
    reply = await send(ctx, login.request, variables, auth="none")
    token = field_value_or_none(reply.body, login.token_field)
    if reply.status not in login.wrong_password_status or token:
        raise CheckFailed(
            f"a wrong password was accepted by the login request ({reply.method} {reply.path} "
            f"answered {reply.status}" + (f" with {login.token_field})" if token else ")"),
            expected=f"status {' or '.join(map(str, login.wrong_password_status))} "
            f"and no {login.token_field}",
            actual=f"status {reply.status}"
            + (f", {login.token_field} issued" if token else f": {reply.excerpt()}"),
            evidence=[reply.evidence()],
        )
    return f"{reply.method} {reply.path} -> {reply.status}"


async def _cookie_login_refused(ctx: Ctx, req: Request, variables: dict[str, Any]) -> str:
    """A form login with a wrong password sets no session cookie (the page may be a 200)."""
    login = ctx.spec.login
    session = login.session_cookie
    if session is None:
        raise CheckSkipped(
            "a cookie_session login needs auth.login.session_cookie to tell a refused "
            "login from an accepted one",
            kind="configuration",
        )
    headers: dict[str, str] = {}
    if login.page is not None:
        page = await send(ctx, login.page, variables, auth="none")
        expect(page, login.page, "the login page")
        cookies = set_cookies(page.set_cookie)
        if cookies:
            headers["Cookie"] = cookie_header(cookies)
        if login.csrf_pattern:
            found = re.search(login.csrf_pattern, page.text)
            variables = variables | {"csrf": found.group(1) if found else ""}
    reply = await send(ctx, req, variables, auth="none", headers=headers)
    set_now = set_cookies(reply.set_cookie)
    if session in set_now:
        raise CheckFailed(
            f"a wrong password was accepted by the login form ({reply.method} {reply.path} "
            f"set the session cookie {session!r})",
            expected=f"no {session!r} cookie for a wrong password",
            actual=f"status {reply.status}, cookies: {', '.join(set_now)}",
            evidence=[reply.evidence()],
        )
    return f"{reply.method} {reply.path} -> {reply.status}, no {session!r} cookie"


def field_value_or_none(body: Any, dotted: str) -> Any:
    """A field of ``body``, or None when it has none."""
    try:
        return field_value(body, dotted)
    except (KeyError, IndexError, ValueError, TypeError):
        return None


async def _form_login_refused(ctx: Ctx, wrong: str) -> str:
    """The browser login form with a wrong password: no success page, its error shown,
    and no session on the page; returns a note."""
    spec = ctx.spec
    bl = spec.browser_login
    assert bl is not None
    async with traced_page(ctx) as page:
        error = await _browser_sign_in(ctx, page, wrong)
        me_status, body = await api_get(page, render(spec.me.path, ctx.variables))
        who = field_value_or_none(body, spec.identity_field)
        signed_in = 200 <= me_status < 300 and who is not None
        if error is None or signed_in:
            raise CheckFailed(
                "the login form accepted a wrong password",
                expected=f"the login form's error, not {bl.success_url}, and no session",
                actual=f"at {urlsplit(page.url).path}, {spec.me.path} -> {me_status}"
                + (f" as {as_json(who)}" if signed_in else ""),
            )
        if bl.error_selector and not error:
            raise CheckFailed(
                "the login form refused a wrong password without saying so",
                expected=f"an error in {bl.error_selector}",
                actual=f"no error shown at {urlsplit(page.url).path}",
            )
    return f"login form: {error or 'stayed on the form'}"


@check("wrong_password_refused")
async def wrong_password_refused(ctx: Ctx) -> Passed:
    """Invariant: the test identity with a wrong password gets no credential by any
    login this contract configures, each proven with the right password first in this
    run (its positive twin): the login request (password_login) answers a refusal
    status and no token, or, for a cookie session, sets no session cookie; the browser
    login form (browser_login) stays off the success page, shows its error and leaves
    no session.

    A login whose positive twin did not pass is not tried; with none tried the check is
    skipped. HTTP Basic, API keys and static tokens have no login to refuse:
    bad_token_refused proves their tampered credential is refused.
    """
    spec, config = ctx.spec, ctx.config
    api = config.auth_method in ("password", "cookie_session")
    browser = spec.browser_login is not None
    if not api and not browser:
        raise CheckSkipped(
            f"auth_method {config.auth_method!r} has no login request and no browser login "
            "is configured (bad_token_refused proves a tampered credential is refused)",
            kind="not_applicable",
        )
    tried, unproven = [], []
    wrong = _wrong_password()
    for name, applies, attempt in (
        ("password_login", api, _api_login_refused),
        ("browser_login", browser, _form_login_refused),
    ):
        if not applies:
            continue
        if not _proven(ctx, name):
            unproven.append(name)
            continue
        tried.append(await attempt(ctx, wrong))
    if not tried:
        raise CheckSkipped(
            f"needs the right password to work first: {', '.join(unproven)} did not pass",
            kind="prerequisite",
        )
    return Passed(
        expected="a wrong password refused by every configured login",
        actual="; ".join(tried),
        message=f"not tried ({', '.join(unproven)} did not pass)" if unproven else "",
    )


async def _send_from_page(ctx: Ctx, page: Page, req: Request) -> int:
    """Send ``req`` the way the page's own script would: fetch() with its cookies."""
    path = str(render(req.path, ctx.variables))
    require_own_page(ctx, page, "to sign out")
    body = render(req.body, ctx.variables)
    return int(
        await page.evaluate(
            """async ([path, method, headers, body, format]) => {
                const init = {method, headers: {...headers}, credentials: "same-origin"};
                if (body !== null && format === "form") {
                    init.body = new URLSearchParams(body);
                } else if (body !== null) {
                    init.body = JSON.stringify(body);
                    init.headers["Content-Type"] = "application/json";
                }
                return (await fetch(path, init)).status;
            }""",
            [path, req.method, render(req.headers, ctx.variables), body, req.body_format],
        )
    )


@check("sign_out_ends_session")
async def sign_out_ends_session(ctx: Ctx) -> Passed:
    """Invariant: a browser signed in through the login page (the identity endpoint
    answers its session as the test identity: the positive twin, in the same attempt)
    sends the sign-out request from the page with the page's cookies, gets an expected
    status, and afterwards the identity endpoint no longer answers that page's session
    with 2xx."""
    spec = ctx.spec
    if spec.sign_out is None or spec.browser_login is None:
        raise CheckSkipped("no browser login with a sign-out configured", kind="not_applicable")
    if not _proven(ctx, "browser_login"):
        raise CheckSkipped("needs browser_login to pass first", kind="prerequisite")
    so = spec.sign_out
    me_path = render(spec.me.path, ctx.variables)
    async with traced_page(ctx) as page:
        error = await _browser_sign_in(ctx, page)
        if error is not None:
            raise CheckSkipped(
                f"could not sign in to sign out: {error or 'no redirect'}", kind="prerequisite"
            )
        await _expect_identity(ctx, page, "before signing out")
        status = await _send_from_page(ctx, page, so)
        if status not in so.expect_status:
            raise CheckFailed(
                f"the sign-out request {so.method} {so.path} answered {status}",
                expected=f"status {' or '.join(map(str, so.expect_status))}",
                actual=f"status {status}",
            )
        me_status, body = await api_get(page, me_path)
        if 200 <= me_status < 300:
            who = field_value_or_none(body, spec.identity_field)
            raise CheckFailed(
                "signing out left the page signed in: the session still reaches the "
                "identity endpoint",
                expected=f"{me_path} refuses the page after {so.method} {so.path}",
                actual=f"{so.method} {so.path} -> {status}, then {me_path} -> {me_status} "
                f"as {as_json(who)}",
            )
    return Passed(
        expected="the session ends when the browser signs out",
        actual=f"{so.method} {so.path} -> {status}, then {me_path} -> {me_status}",
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
    ``state`` (an expected refusal status) and leaves no session behind, both in a
    browser that holds the state cookie of its own login and in one that holds no
    cookie at all (the attacker's case: a victim who never started a login); the
    positive twin is the real login reaching the callback in the same attempt.

    The browser signs in for real, once per case; the redirect that carries the
    identity provider's answer to the callback is rewritten in flight so its ``state``
    is not the one the app issued, and in the second case the browser's cookies are
    cleared before it follows that redirect. Playwright does not route redirected
    requests, so the rewrite happens on the response that redirects to the callback.
    """
    spec = ctx.spec
    if spec.forged_state is None or spec.browser_login is None:
        raise CheckSkipped("no browser login callback configured", kind="not_applicable")
    fs = spec.forged_state
    seen: list[str] = []
    async with traced_page(ctx) as page:
        for case, drop_cookies in (("with its state cookie", False), ("without cookies", True)):
            status, me_status = await _forged_callback(ctx, page, drop_cookies)
            if status not in fs.expect_status or me_status < 300:
                raise CheckFailed(
                    f"the login callback accepted a forged state {case}: a login CSRF is possible",
                    expected=f"status {' or '.join(map(str, fs.expect_status))} and no session",
                    actual=f"{case}: callback -> {status}, {spec.me.path} -> {me_status}",
                )
            seen.append(f"{case}: callback -> {status}")
            await page.context.clear_cookies()
    return Passed(expected="forged state refused", actual=f"{'; '.join(seen)}, no session")


async def _forged_callback(ctx: Ctx, page: Page, drop_cookies: bool) -> tuple[int, int]:
    """Sign in for real with the callback's ``state`` forged in flight (and the cookies
    cleared first when ``drop_cookies``): the callback's status and the identity
    endpoint's status for the page afterwards."""
    spec = ctx.spec
    fs, bl = spec.forged_state, spec.browser_login
    assert fs is not None
    assert bl is not None
    forged: list[str] = []
    callback_statuses: list[int] = []
    dropped: list[str] = []

    async def forge(route: Route) -> None:
        try:
            await rewrite(route)
        except PlaywrightError as e:  # the connection dropped: judged on a retry, below
            dropped.append(str(e).splitlines()[0])
            with contextlib.suppress(PlaywrightError):
                await route.abort()

    async def rewrite(route: Route) -> None:
        if not route.request.is_navigation_request():
            await route.continue_()
            return
        response = await route.fetch(max_redirects=0)
        location = response.headers.get("location", "")
        if 300 <= response.status < 400 and urlsplit(location).path.endswith(fs.callback_path):
            forged.append(location)
            if drop_cookies:
                await page.context.clear_cookies()
            headers = dict(response.headers) | {"location": _forge_state(location)}
            await route.fulfill(status=response.status, headers=headers, body=b"")
        else:
            await route.fulfill(response=response)

    def on_response(response: Response) -> None:
        if urlsplit(response.url).path.endswith(fs.callback_path):
            callback_statuses.append(response.status)

    page.on("response", on_response)
    await page.route("**/*", forge)
    try:
        await page.goto(bl.start_path)
        await page.wait_for_selector(bl.email_selector)
        await _fill_login_form(ctx, page)
        for _ in range(100):
            if callback_statuses or await _shown_error(page, bl.error_selector):
                break
            await asyncio.sleep(0.1)
        if callback_statuses:
            # The callback's answer is still being handed to the page: let it land
            # before the next case navigates, or its fulfil fails mid-flight.
            await page.wait_for_load_state()
    finally:
        # A handler still in flight must not raise later, into another check's call
        # on the same browser connection.
        await page.unroute_all(behavior="ignoreErrors")
        page.remove_listener("response", on_response)
    await _require_callback_reached(ctx, page, forged, callback_statuses, dropped)
    me_status, _ = await api_get(page, render(spec.me.path, ctx.variables))
    return callback_statuses[0], me_status


async def _require_callback_reached(
    ctx: Ctx, page: Page, forged: list[str], callback_statuses: list[int], dropped: list[str]
) -> None:
    """The forged redirect reached the callback, else why not (retried, skipped, failed)."""
    fs, bl = ctx.spec.forged_state, ctx.spec.browser_login
    assert fs is not None
    assert bl is not None
    if dropped and not callback_statuses:
        raise TransientError(
            f"a request of the login was cut off: {dropped[0]}",
            expected=f"the login's redirect to {fs.callback_path}",
            actual=dropped[0],
        )
    error = await _shown_error(page, bl.error_selector)
    if not forged and error:
        # The login itself fails: browser_login reports that; nothing to forge here.
        raise CheckSkipped(f"could not sign in to reach the callback: {error}", kind="prerequisite")
    if not forged or not callback_statuses:
        raise CheckFailed(
            "the login never redirected to the callback, so a forged state could not be tried",
            expected=f"a redirect to {fs.callback_path}",
            actual=f"stopped at {urlsplit(page.url).path}",
        )


@check("foreign_redirect_refused")
async def foreign_redirect_refused(ctx: Ctx) -> Passed:
    """Invariant: the identity provider sends a sign-in only back to the app. The page
    the browser login's start leads to (its query names the app's own redirect URI in
    ``foreign_redirect.param``) shows the sign-in form: the positive twin, in the same
    attempt, after browser_login passed. The same request with the redirect URI moved
    to ``foreign_host`` must answer an expected refusal status, show no sign-in form and
    send the browser nowhere near that host (any request to it is blocked and fails the
    check): otherwise an attacker's link gets a signed-in user's code sent to the
    attacker.
    """
    spec = ctx.spec
    fr, bl = spec.foreign_redirect, spec.browser_login
    if fr is None or bl is None:
        raise CheckSkipped(
            "no browser login with a foreign_redirect configured", kind="not_applicable"
        )
    if not _proven(ctx, "browser_login"):
        raise CheckSkipped("needs browser_login to pass first", kind="prerequisite")
    sent_there: list[str] = []

    async def block(route: Route) -> None:
        sent_there.append(origins.redact(route.request.url).split("?")[0])
        await route.abort()

    async with traced_page(ctx) as page:
        await page.route(lambda url: urlsplit(url).hostname == fr.foreign_host, block)
        await page.goto(bl.start_path)
        await page.wait_for_selector(bl.email_selector)
        own = page.url
        moved = with_redirect_host(own, fr.param, fr.foreign_host)
        if moved is None:
            raise CheckSkipped(
                f"the sign-in page {urlsplit(own).path} names no redirect URI in "
                f"{fr.param!r}: not a redirect to an identity provider",
                kind="not_applicable",
            )
        try:
            response = await page.goto(moved)
        except PlaywrightError:
            if not sent_there:
                raise
            response = None  # the request to the foreign host was blocked: judged below
        status = response.status if response is not None else None
        form = await page.locator(bl.email_selector).count() if not sent_there else 0
        shown = await _shown_error(page, bl.error_selector)
        await page.unroute_all(behavior="ignoreErrors")
    where = f"{urlsplit(own).path} with {fr.param} on {fr.foreign_host}"
    if sent_there or form or status not in fr.expect_status:
        did = (
            f"sent the browser to {sent_there[0]}"
            if sent_there
            else f"answered {status}" + (" with the sign-in form" if form else "")
        )
        raise CheckFailed(
            f"the identity provider accepts a redirect URI on a foreign host: {where} {did}",
            expected=f"status {' or '.join(map(str, fr.expect_status))}, no sign-in form",
            actual=did,
        )
    return Passed(
        expected="the sign-in form for the app's own redirect URI, a refusal for a foreign one",
        actual=f"own -> sign-in form; {fr.foreign_host} -> {status}"
        + (f" {as_json(shown)}" if shown else ""),
    )


@check("discovery_endpoints")
async def discovery_endpoints(ctx: Ctx) -> Passed:
    """Invariant: the OpenID discovery document answers its contract and every endpoint
    it names works where it says: the browser login's start sends the browser to its
    ``authorization_endpoint``; its ``token_endpoint`` signs the test identity in by the
    login request's form (auth_method password; otherwise it must answer a made-up
    authorization code with an OAuth error); its ``jwks_uri`` holds the key the token
    names and the token's issuer is the document's; its ``userinfo_endpoint`` answers
    the token as the test identity (``identity_claim``). A client configured from the
    document, not from fixed paths, signs in. With auth_method password it runs after
    password_login passed (the same login by the contract's fixed path).
    """
    spec = ctx.spec
    d = spec.discovery
    if d is None:
        raise CheckSkipped("no OpenID discovery document configured", kind="not_applicable")
    if ctx.config.auth_method == "password" and not _proven(ctx, "password_login"):
        # Its token endpoint is signed in at by the login request: it would fail for the
        # same reason, which password_login already reports.
        raise CheckSkipped("needs password_login to pass first", kind="prerequisite")
    reply = await send(ctx, d.request, auth="none", probe=False)
    expect(reply, d.request, "the discovery document")
    endpoints, problems = oidc_endpoints(reply.body)
    if problems:
        raise CheckFailed(
            f"the discovery document is unusable: {problems[0]}",
            expected="absolute URLs for token_endpoint and jwks_uri (and any other endpoint)",
            actual="; ".join(problems),
            evidence=[reply.evidence()],
        )
    allowed = origins.allowed_origins(ctx.config)
    outside = [n for n, url in endpoints.items() if not origins.may_send_credentials(url, allowed)]
    if outside:
        raise PreconditionError(
            f"the discovery document names {outside[0]} {origins.redact(endpoints[outside[0]])}, "
            f"outside environment {ctx.config.name!r}'s origins: the suite will not send the "
            f"test identity there. If it is the product's identity provider, list its origin "
            f"in {origins.ALLOWED_ORIGINS_SETTING}."
        )
    proven = [await _authorize_is_the_logins(ctx, endpoints)]
    token, note = await _token_from(ctx, endpoints["token_endpoint"])
    proven.append(note)
    proven.append(await _jwks_holds_key(ctx, endpoints["jwks_uri"], token, reply.body))
    if "userinfo_endpoint" in endpoints:
        proven.append(await _userinfo_is_test(ctx, endpoints["userinfo_endpoint"], token))
    return Passed(
        expected="every endpoint the discovery document names works there",
        actual="; ".join(p for p in proven if p),
    )


async def _authorize_is_the_logins(ctx: Ctx, endpoints: dict[str, str]) -> str:
    """The browser login's start must redirect to the authorization endpoint; a note."""
    bl = ctx.spec.browser_login
    named = endpoints.get("authorization_endpoint")
    if named is None or bl is None:
        return ""
    start = Request(path=bl.start_path, expect_status=[301, 302, 303, 307, 308], public=True)
    reply = await send(ctx, start, auth="none", probe=False)
    location = reply.headers.get("location", "")
    if not 300 <= reply.status < 400 or not location:
        return "authorization_endpoint not compared (the login start does not redirect)"
    target = origins.resolve(str(ctx.http.base_url), location)
    if not same_endpoint(target, named):
        raise CheckFailed(
            "the login sends the browser to another authorization endpoint than the "
            "discovery document names",
            expected=f"{bl.start_path} redirecting to {origins.redact(named)}",
            actual=f"it redirects to {origins.redact(target).split('?')[0]}",
            evidence=[reply.evidence()],
        )
    return "the login starts at authorization_endpoint"


async def _token_from(ctx: Ctx, url: str) -> tuple[str | None, str]:
    """Sign the test identity in at the token endpoint ``url``: the token (None when the
    login is not a password grant) and a note."""
    config, login = ctx.config, ctx.spec.login
    if config.auth_method != "password":
        probe = Request(
            method="POST",
            path=url,
            body_format="form",
            body={"grant_type": "authorization_code", "code": "smoke-made-up-{{run_id}}"},
            expect_status=[400, 401],
        )
        reply = await send(ctx, probe, auth="none", probe=False)
        if (
            reply.status not in probe.expect_status
            or field_value_or_none(reply.body, "error") is None
        ):
            raise CheckFailed(
                f"the discovery document's token endpoint is no OAuth token endpoint: "
                f"POST {reply.path} answered {reply.status} to a made-up code",
                expected='status 400 or 401 with an OAuth error ({"error": "invalid_grant"})',
                actual=f"status {reply.status}: {reply.excerpt()}",
                evidence=[reply.evidence()],
            )
        return None, f"token_endpoint refuses a made-up code ({reply.status})"
    if config.test_password is None:
        raise CheckSkipped(
            "no test password to sign in at the token endpoint", kind="configuration"
        )
    req = login.request.model_copy(update={"path": url})
    variables = {"email": config.test_email, "password": config.test_password.get_secret_value()}
    reply = await send(ctx, req, variables, auth="none", probe=False)
    expect(reply, req, "signing in at the discovery document's token_endpoint")
    token = field_of(reply, login.token_field, "the token endpoint's answer")
    if not isinstance(token, str) or not token:
        raise CheckFailed(
            "the discovery document's token endpoint gave the test identity no token",
            expected=f"a string in {login.token_field!r}",
            actual=reply.excerpt(),
            evidence=[reply.evidence()],
        )
    scrubber.register(token)
    return token, f"token_endpoint signs the test identity in ({reply.status})"


async def _jwks_holds_key(ctx: Ctx, url: str, token: str | None, doc: Any) -> str:
    """The JWKS must list keys, among them the one a JWT token names; a note."""
    reply = await send(ctx, Request(path=url, public=True), auth="none", probe=False)
    keys = field_value_or_none(reply.body, "keys") if reply.ok else None
    if not isinstance(keys, list) or not keys:
        raise CheckFailed(
            f"the discovery document's jwks_uri holds no keys: GET {reply.path} answered "
            f"{reply.status}",
            expected='status 200 with {"keys": [...]}, at least one',
            actual=f"status {reply.status}: {reply.excerpt()}",
            evidence=[reply.evidence()],
        )
    segments = jwt_segments(token) if token else None
    if segments is None:
        return f"jwks_uri lists {len(keys)} keys"
    header, claims = segments
    kid = header.get("kid")
    kids = [k.get("kid") for k in keys if isinstance(k, dict)]
    if kid is not None and kid not in kids:
        raise CheckFailed(
            "the token is signed with a key the discovery document's jwks_uri does not list",
            expected=f"a key with kid {as_json(kid)} in {reply.path}",
            actual=f"kids {as_json(kids)}",
            evidence=[reply.evidence()],
        )
    issuer = doc.get("issuer") if isinstance(doc, dict) else None
    if issuer is not None and "iss" in claims and claims["iss"] != issuer:
        raise CheckFailed(
            "the token's issuer is not the discovery document's",
            expected=f"iss {as_json(issuer)}",
            actual=f"iss {as_json(claims['iss'])}",
        )
    return "jwks_uri holds the token's key" + (", issuer matches" if issuer else "")


async def _userinfo_is_test(ctx: Ctx, url: str, token: str | None) -> str:
    """The userinfo endpoint must answer the token as the test identity; a note."""
    if token is None:
        return "userinfo_endpoint not tried (no token from a password grant)"
    claim = ctx.spec.discovery.identity_claim if ctx.spec.discovery else "email"
    req = Request(path=url)
    reply = await send(
        ctx, req, auth="none", headers={"Authorization": f"Bearer {token}"}, probe=False
    )
    who = field_value_or_none(reply.body, claim)
    if not reply.ok or who != ctx.config.test_email:
        raise CheckFailed(
            f"the discovery document's userinfo_endpoint does not answer the test identity: "
            f"GET {reply.path} answered {reply.status}",
            expected=f"status 200 with {claim} = {as_json(ctx.config.test_email)}",
            actual=f"status {reply.status}, {claim} = {as_json(who)}",
            evidence=[reply.evidence()],
        )
    return f"userinfo_endpoint answers {claim} = {who}"


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
    """Anonymous and bad-token callers refused; login by every configured method, a wrong
    password refused, sign-out ends the session; tenants.

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
            await asyncio.gather(
                run_check(ctx, me_identity),
                run_check(ctx, tenant_isolation),
                run_check(ctx, discovery_endpoints),
            )

        async def browser_checks() -> None:
            # One browser context per journey: its checks take turns.
            await run_check(ctx, browser_login)
            await run_check(ctx, sign_out_ends_session)
            await run_check(ctx, forged_state_rejected)
            await run_check(ctx, foreign_redirect_refused)
            await run_check(ctx, passkey_login)

        if ready:
            await asyncio.gather(api_checks(), browser_checks())
            # After both: its positive twins are the password and browser logins.
            await run_check(ctx, wrong_password_refused)
    return await journey_outcome(ctx)
