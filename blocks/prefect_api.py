"""The Prefect API this process talks to: configured or ephemeral, answering or not."""

from __future__ import annotations

import httpx
from prefect.settings import PREFECT_API_URL

from smoke.config import start_timeout_s
from smoke.errors import ConfigError, SmokeSystemError


def prefect_api_configured() -> bool:
    """True when PREFECT_API_URL points at a server (not Prefect's ephemeral mode)."""
    return bool(PREFECT_API_URL.value())


def require_api() -> None:
    """Blocks and deployments live on a Prefect server: refuse ephemeral mode's database."""
    if not prefect_api_configured():
        raise ConfigError(
            "PREFECT_API_URL is not set: blocks and deployments are stored on a Prefect server. "
            "Start one (`smoke server start`) and set PREFECT_API_URL to the URL it prints."
        )


async def check_prefect_api(connect_timeout_s: float = 5.0) -> None:
    """Fail fast when the configured Prefect API does not answer its health check.

    Prefect's client retries a dead server with backoff for about a minute; a release
    pipeline should hear within seconds that the smoke system cannot run. Only reaching
    the server is bounded that short: a server that accepted the connection and is slow
    to answer (a busy machine) gets the hang bound, SMOKE_START_TIMEOUT_S.
    """
    url = f"{str(PREFECT_API_URL.value()).rstrip('/')}/health"
    timeout = httpx.Timeout(start_timeout_s(), connect=connect_timeout_s)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as e:
        raise SmokeSystemError(
            f"The Prefect API at {PREFECT_API_URL.value()} is not answering ({type(e).__name__}: {e}). "
            "Start it (`smoke server start`) or fix PREFECT_API_URL."
        ) from e


def register_block_types() -> list[str]:
    """Register SmokeEnvironment and SlackTarget (idempotent): their slugs.

    Two processes registering at once (two `smoke sandbox --push-block` started
    together) both find no block type and both create it; the later one's
    ObjectAlreadyExists means the other got there first, so one more try updates it.
    """
    from prefect.exceptions import ObjectAlreadyExists

    from blocks import SlackTarget, SmokeEnvironment

    slugs = []
    for block_type in (SmokeEnvironment, SlackTarget):
        try:
            block_type.register_type_and_schema()
        except ObjectAlreadyExists:
            block_type.register_type_and_schema()
        slugs.append(block_type.get_block_type_slug())
    return slugs
