"""The one HTTP helper: render a configured request, send it, judge status and contract."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from smoke import origins
from smoke.contracts import describe, excerpt, validate
from smoke.errors import ConfigError
from smoke.results import Evidence
from smoke.retry import (
    REQUEST_BACKOFF_S,
    REQUEST_RETRIES,
    TransientError,
    is_transient_status,
    repeat_request,
)
from smoke.spec import Request, field_value, render
from tasks.checks import CheckFailed, CheckSkipped, note_recovered

if TYPE_CHECKING:
    from tasks.context import JourneyContext

E2E_HEADER = "X-E2E-Test-Token"


@dataclass
class Reply:
    """What came back: status, parsed body (or text), latency."""

    method: str
    path: str
    status: int
    body: Any
    text: str
    elapsed_ms: int
    headers: dict[str, str]

    def excerpt(self) -> str:
        """A short excerpt of the body for messages and evidence."""
        return excerpt(self.body if self.body is not None else self.text, 300)

    def evidence(self, label: str | None = None) -> Evidence:
        """The response as evidence."""
        return Evidence(
            kind="response",
            label=label or f"{self.method} {self.path} -> {self.status}",
            excerpt=self.excerpt(),
        )


async def send(
    ctx: JourneyContext,
    req: Request,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    with_e2e_token: bool | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Send ``req`` (placeholders filled) to the environment's API.

    429/502/503/504 raise TransientError so the check is retried; any other status is
    returned for the caller to judge.
    """
    values = ctx.variables | (variables or {})
    path = str(render(req.path, values))
    require_own_origin(ctx, req.method, path)
    body = render(req.body, values)
    send_headers = dict(headers or {})
    if token:
        send_headers["Authorization"] = f"Bearer {token}"
    if req.e2e if with_e2e_token is None else with_e2e_token:
        send_headers[E2E_HEADER] = e2e_token(ctx, path)
    kwargs: dict[str, Any] = {"headers": send_headers}
    if req.params:
        kwargs["params"] = render(req.params, values)
    if body is not None:
        kwargs["json" if req.body_format == "json" else "data"] = body
    for attempt in range(REQUEST_RETRIES + 1):
        started = time.perf_counter()
        response = await ctx.http.request(req.method, path, **kwargs)
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        status = response.status_code
        if attempt == REQUEST_RETRIES or not repeat_request(req.method, status, req.expect_status):
            break
        # A quick retry of this one request; the check still reads flaky for it.
        note_recovered(f"{req.method} {path.split('?')[0]} -> {status}")
        await asyncio.sleep(REQUEST_BACKOFF_S * 2**attempt)
    try:
        parsed: Any = response.json()
    except ValueError:
        parsed = None
    reply = Reply(
        method=req.method,
        path=path.split("?")[0],
        status=response.status_code,
        body=parsed,
        text=response.text[:2000],
        elapsed_ms=elapsed_ms,
        headers=dict(response.headers),
    )
    # A status the contract expects (a health endpoint's 503, say) is an answer, not a fault.
    if is_transient_status(response.status_code) and response.status_code not in req.expect_status:
        raise TransientError(
            f"{req.method} {reply.path} answered {response.status_code}",
            expected=f"status {' or '.join(map(str, req.expect_status))}",
            actual=f"status {response.status_code}",
        )
    return reply


def require_own_origin(ctx: JourneyContext, method: str, path: str) -> None:
    """Refuse a request to anywhere but the environment's origins, before it is sent.

    The contract was checked before the run; this catches a placeholder that only
    became an absolute URL at run time. Tokens, passwords, cookies and the e2e token
    ride on these requests, so none of them can reach another origin.
    """
    url = origins.resolve(str(ctx.http.base_url), path)
    allowed = origins.allowed_origins(ctx.config)
    if not origins.may_send_credentials(url, allowed):
        raise ConfigError(
            f"Refusing to send {method} {origins.redact(url).split('?')[0]}: it is not one of "
            f"environment {ctx.config.name!r}'s origins ({', '.join(sorted(allowed))}). "
            f"Fix the contract, or list a trusted origin in {origins.ALLOWED_ORIGINS_SETTING}."
        )


def e2e_token(ctx: JourneyContext, path: str) -> str:
    """The e2e token, only ever for the configured target."""
    if urlsplit(path).netloc:
        raise ConfigError(
            f"Refusing to send the e2e token to {path!r}: e2e paths must be relative to the "
            "environment's api_url."
        )
    if ctx.config.e2e_token is None:
        raise CheckSkipped(
            "needs the target's e2e token (set SMOKE_E2E_TOKEN or the block's e2e_token)"
        )
    return ctx.config.e2e_token.get_secret_value()


def expect(reply: Reply, req: Request, what: str) -> None:
    """Raise CheckFailed unless the status is expected and the body matches the contract."""
    if reply.status not in req.expect_status:
        raise CheckFailed(
            f"{what}: {reply.method} {reply.path} answered {reply.status}",
            expected=f"status {' or '.join(map(str, req.expect_status))}",
            actual=f"status {reply.status}: {reply.excerpt()}",
            evidence=[reply.evidence()],
        )
    if req.schema_ is not None:
        if reply.body is None:
            raise CheckFailed(
                f"{what}: {reply.method} {reply.path} did not answer JSON",
                expected="a JSON body matching the contract",
                actual=f"non-JSON body: {excerpt(reply.text, 200)}",
                evidence=[reply.evidence()],
            )
        violations = validate(reply.body, req.schema_)
        if violations:
            raise CheckFailed(
                f"{what}: the response of {reply.method} {reply.path} breaks its contract",
                expected="the body matches its JSON Schema contract",
                actual=describe(violations),
                evidence=[reply.evidence()],
            )


def field_of(reply: Reply, dotted: str, what: str) -> Any:
    """A field of the reply's body, or CheckFailed naming the missing field."""
    try:
        return field_value(reply.body, dotted)
    except (KeyError, IndexError, ValueError, TypeError):
        raise CheckFailed(
            f"{what}: the response of {reply.method} {reply.path} has no field {dotted!r}",
            expected=f"a field {dotted!r}",
            actual=reply.excerpt(),
            evidence=[reply.evidence()],
        ) from None


async def login(ctx: JourneyContext, email: str, password: str) -> str:
    """An access token for ``email`` through the configured login request."""
    spec = ctx.suite.auth.login
    reply = await send(ctx, spec.request, {"email": email, "password": password})
    expect(reply, spec.request, f"login as {email}")
    token = field_of(reply, spec.token_field, f"login as {email}")
    if not isinstance(token, str) or not token:
        raise CheckFailed(
            f"login as {email} returned no token",
            expected=f"a string in {spec.token_field!r}",
            actual=reply.excerpt(),
        )
    from smoke.scrub import scrubber

    scrubber.register(token)
    return token


async def session_token(ctx: JourneyContext) -> str:
    """The test identity's API token for checks that need one (cached per journey)."""
    async with ctx.token_lock:
        if "test" not in ctx.tokens:
            ctx.tokens["test"] = await _sign_in_test_identity(ctx)
        return ctx.tokens["test"]


async def _sign_in_test_identity(ctx: JourneyContext) -> str:
    config = ctx.config
    if config.auth_method == "static_token" and config.static_token is not None:
        token = config.static_token.get_secret_value()
    else:
        if not config.test_email or config.test_password is None:
            raise ConfigError(
                f"Environment {config.name!r} has no test identity: set test_email and "
                "test_password (SMOKE_TEST_EMAIL, SMOKE_TEST_PASSWORD)."
            )
        try:
            token = await login(ctx, config.test_email, config.test_password.get_secret_value())
        except CheckFailed as f:
            # Not this check's failure: the auth journey's password_login check owns it.
            raise CheckSkipped(
                f"needs a signed-in test identity, and login failed: {f.message}"
            ) from None
    return token
