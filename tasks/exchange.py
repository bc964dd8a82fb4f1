"""Putting one request on the wire: fill it in, keep it to the environment's origins, judge the answer.

Below identities: a request goes out with the credentials it is handed, or none
(``tasks.http.send`` resolves an identity, ``tasks.signin`` signs one in through here).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from smoke import origins
from smoke.contracts import describe, excerpt, validate
from smoke.errors import ConfigError
from smoke.outcomes import CheckFailed, CheckSkipped
from smoke.retry import (
    REQUEST_BACKOFF_S,
    REQUEST_RETRIES,
    TransientError,
    is_transient_status,
    repeat_request,
)
from smoke.scrub import scrubber
from smoke.spec import Request, field_value, render
from tasks.progress import note_recovered
from tasks.wire import Credentials, Prepared, Reply

if TYPE_CHECKING:
    from tasks.journey import JourneyContext

E2E_HEADER = "X-E2E-Test-Token"


def prepare(
    ctx: JourneyContext[Any],
    req: Request,
    variables: dict[str, Any] | None = None,
    *,
    with_e2e_token: bool | None = None,
    headers: dict[str, str] | None = None,
) -> Prepared:
    """``req`` with every placeholder filled (and the e2e token when it asks for it)."""
    values = ctx.variables | (variables or {})
    path = str(render(req.path, values))
    extra = {str(k): str(v) for k, v in render(req.headers, values).items()}
    if req.e2e if with_e2e_token is None else with_e2e_token:
        extra[E2E_HEADER] = e2e_token(ctx, path)
    return Prepared(
        method=req.method,
        path=path,
        params=render(req.params, values) if req.params else None,
        headers=extra | (headers or {}),
        body=render(req.body, values),
        body_format=req.body_format,
    )


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
