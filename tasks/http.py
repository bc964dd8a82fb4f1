"""The one HTTP helper: send a configured request as an identity, signed in when needed.

The request itself goes out through ``tasks.exchange``; a 2xx answer to an identity is
kept on the journey for the refusal checks to replay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smoke.outcomes import CheckSkipped
from smoke.spec import Identity, Request
from tasks.exchange import exchange, prepare
from tasks.signin import credentials
from tasks.wire import Credentials, ProbeTarget, Reply

if TYPE_CHECKING:
    from tasks.journey import JourneyContext


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
    who: Identity = req.auth or auth or "none"
    creds = as_credentials if as_credentials is not None else await credentials(ctx, who)
    prepared = prepare(ctx, req, variables, with_e2e_token=with_e2e_token, headers=headers)
    reply = await exchange(ctx, prepared, req.expect_status, creds)
    if creds is not None and reply.ok and probe and not req.public:
        key = (creds.who, prepared.method, prepared.path)
        ctx.authenticated.setdefault(key, ProbeTarget(prepared, req, creds))
    return reply


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
