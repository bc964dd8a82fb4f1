"""The one HTTP helper: render a configured request, send it, judge status and contract."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from smoke import origins
from smoke.contracts import describe, excerpt, validate
from smoke.errors import ConfigError
from smoke.outcomes import CheckFailed, CheckSkipped
from smoke.results import Evidence
from smoke.retry import (
    REQUEST_BACKOFF_S,
    REQUEST_RETRIES,
    TransientError,
    is_transient_status,
    repeat_request,
)
from smoke.scrub import scrubber
from smoke.spec import Identity, Request, field_value, render
from tasks.progress import note_recovered
from tasks.signin import Credentials, credentials

if TYPE_CHECKING:
    from tasks.journey import JourneyContext

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
    is_json: bool = False
    set_cookie: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300

    def excerpt(self) -> str:
        """A short excerpt of the body for messages and evidence."""
        return excerpt(self.body if self.is_json else self.text, 300)

    def evidence(self, label: str | None = None) -> Evidence:
        """The response as evidence."""
        return Evidence(
            kind="response",
            label=label or f"{self.method} {self.path} -> {self.status}",
            excerpt=self.excerpt(),
        )


@dataclass(frozen=True)
class Prepared:
    """A request with every placeholder filled: what goes on the wire, credentials aside."""

    method: str
    path: str
    params: dict[str, Any] | None
    headers: dict[str, str]
    body: Any
    body_format: str

    @property
    def route(self) -> str:
        """Method and path without the query, as messages name a request."""
        return f"{self.method} {self.path.split('?')[0]}"


@dataclass(frozen=True)
class ProbeTarget:
    """A request an identity got a 2xx for, kept for the refusal checks to replay."""

    prepared: Prepared
    request: Request
    credentials: Credentials


async def send(
    ctx: JourneyContext[Any],
    req: Request,
    variables: dict[str, Any] | None = None,
    *,
    auth: Identity | None = None,
    as_credentials: Credentials | None = None,
    with_e2e_token: bool | None = None,
    headers: dict[str, str] | None = None,
    probe: bool = True,
) -> Reply:
    """Send ``req`` (placeholders filled) to the environment's API as an identity.

    The identity is the request's own ``auth``, else ``auth`` (the caller's default),
    else nobody; ``as_credentials`` overrides both (the refusal checks' replays). A 2xx
    answer to an identity is kept for the refusal checks (unless the request is public).
    429/502/503/504 raise TransientError so the check is retried (the last answer is kept
    as the check's evidence); any other status is returned for the caller to judge.
    """
    values = ctx.variables | (variables or {})
    who: Identity = req.auth or auth or "none"
    creds = as_credentials if as_credentials is not None else await credentials(ctx, who)
    path = str(render(req.path, values))
    extra = {str(k): str(v) for k, v in render(req.headers, values).items()}
    if req.e2e if with_e2e_token is None else with_e2e_token:
        extra[E2E_HEADER] = e2e_token(ctx, path)
    prepared = Prepared(
        method=req.method,
        path=path,
        params=render(req.params, values) if req.params else None,
        headers=extra | (headers or {}),
        body=render(req.body, values),
        body_format=req.body_format,
    )
    reply = await exchange(ctx, prepared, req.expect_status, creds)
    if creds is not None and reply.ok and probe and not req.public:
        key = (creds.who, prepared.method, prepared.path)
        ctx.authenticated.setdefault(key, ProbeTarget(prepared, req, creds))
    return reply


async def exchange(
    ctx: JourneyContext[Any],
    prepared: Prepared,
    expect_status: list[int],
    creds: Credentials | None,
) -> Reply:
    """Put one prepared request on the wire (repeated at once on a transient answer)."""
    # The one place where the final URL and every header are known: nothing leaves for
    # an origin the environment does not name.
    require_own_origin(ctx, prepared.method, prepared.path)
    send_headers = prepared.headers | (creds.headers if creds is not None else {})
    kwargs: dict[str, Any] = {"headers": send_headers}
    if prepared.params:
        kwargs["params"] = prepared.params
    if prepared.body is not None:
        kwargs["json" if prepared.body_format == "json" else "data"] = prepared.body
    method = prepared.method
    for attempt in range(REQUEST_RETRIES + 1):
        started = time.perf_counter()
        response = await ctx.http.request(method, prepared.path, **kwargs)
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        status = response.status_code
        if attempt == REQUEST_RETRIES or not repeat_request(method, status, expect_status):
            break
        # A quick retry of this one request; the check still reads flaky for it.
        note_recovered(f"{prepared.route} -> {status}")
        await asyncio.sleep(REQUEST_BACKOFF_S * 2**attempt)
    try:
        parsed: Any = response.json()
        is_json = True
    except ValueError:
        parsed, is_json = None, False
    reply = Reply(
        method=method,
        path=prepared.path.split("?")[0],
        status=response.status_code,
        body=parsed,
        text=response.text[:2000],
        elapsed_ms=elapsed_ms,
        headers=dict(response.headers),
        is_json=is_json,
        set_cookie=response.headers.get_list("set-cookie"),
    )
    # A status the contract expects (a health endpoint's 503, say) is an answer, not a fault.
    if is_transient_status(response.status_code) and response.status_code not in expect_status:
        ctx.keep_evidence(reply.evidence())
        raise TransientError(
            f"{method} {reply.path} answered {response.status_code}",
            expected=f"status {' or '.join(map(str, expect_status))}",
            actual=f"status {response.status_code}",
        )
    return reply


def require_own_origin(ctx: JourneyContext[Any], method: str, path: str) -> None:
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


def e2e_token(ctx: JourneyContext[Any], path: str) -> str:
    """The e2e token, only ever for the configured target."""
    if urlsplit(path).netloc:
        raise ConfigError(
            f"Refusing to send the e2e token to {path!r}: e2e paths must be relative to the "
            "environment's api_url."
        )
    if ctx.config.e2e_token is None:
        raise CheckSkipped(
            "needs the target's e2e token (set SMOKE_E2E_TOKEN or the block's e2e_token)",
            kind="configuration",
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
        if not reply.is_json:
            raise CheckFailed(
                f"{what}: {reply.method} {reply.path} did not answer JSON",
                expected="a JSON body matching the contract",
                actual=f"non-JSON body: {excerpt(reply.text, 200)}",
                evidence=[reply.evidence()],
            )
        violations = validate(reply.body, req.schema_)
        if violations:
            raise CheckFailed(
                f"{what}: {describe(violations, limit=1)} "
                f"(the response of {reply.method} {reply.path} breaks its contract)",
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


def save(ctx: JourneyContext[Any], reply: Reply, req: Request, what: str) -> dict[str, Any]:
    """Keep the fields ``req.save`` names as ``{{saved.<name>}}`` for later requests."""
    saved = {name: field_of(reply, dotted, what) for name, dotted in req.save.items()}
    for name, value in saved.items():
        if any(word in name.lower() for word in SECRET_WORDS) and isinstance(value, str):
            scrubber.register(value)
    ctx.variables["saved"].update(saved)
    return saved


# A saved value whose name holds one of these is a secret: it never reaches a report.
SECRET_WORDS = ("token", "secret", "password", "key", "cookie", "session")


async def login(ctx: JourneyContext[Any], email: str, password: str) -> str:
    """An access token for ``email`` through the configured login request."""
    spec = ctx.suite.auth.login
    reply = await send(ctx, spec.request, {"email": email, "password": password}, auth="none")
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


async def session_token(ctx: JourneyContext[Any]) -> str:
    """The test identity's bearer token, for browser checks that set it as a session cookie."""
    creds = await credentials(ctx, "test")
    assert creds is not None
    if creds.token is None:
        raise CheckSkipped(
            f"needs a bearer token to open a browser session; auth_method "
            f"{ctx.config.auth_method!r} has none",
            kind="not_applicable",
        )
    return creds.token
