"""The Prefect API this process talks to: configured or ephemeral, answering or not."""

from __future__ import annotations

import httpx
from prefect.settings import PREFECT_API_URL

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


async def check_prefect_api(timeout_s: float = 5.0) -> None:
    """Fail fast when the configured Prefect API does not answer its health check.

    Prefect's client retries a dead server with backoff for about a minute; a release
    pipeline should hear within seconds that the smoke system cannot run.
    """
    url = f"{str(PREFECT_API_URL.value()).rstrip('/')}/health"
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as e:
        raise SmokeSystemError(
            f"The Prefect API at {PREFECT_API_URL.value()} is not answering ({type(e).__name__}: {e}). "
            "Start it (`smoke server start`) or fix PREFECT_API_URL."
        ) from e
