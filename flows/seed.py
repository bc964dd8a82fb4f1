"""Seed test data through the target's e2e API (idempotent tiers: smoke, dev, perf)."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from blocks.resolve import resolve_environment
from smoke.errors import SmokeSystemError
from smoke.retry import backoff_delays
from smoke.spec import JourneyBase, Request
from tasks.checks import retry_if_transient
from tasks.context import open_journey
from tasks.http import send

Tier = Literal["smoke", "dev", "perf"]
SEED = Request(method="POST", path="/e2e/seed", e2e=True)
# The perf tier writes tens of thousands of rows: allow it more than one request's timeout.
SEED_TIMEOUT_S = 120.0


@task(
    name="seed",
    retries=3,
    retry_delay_seconds=backoff_delays(),
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
    persist_result=False,
)
async def seed_tier(environment: str, tier: str) -> dict[str, Any]:
    """POST the tier to the e2e seed endpoint."""
    async with open_journey("seed", environment, JourneyBase) as ctx:
        ctx.http.timeout = ctx.http.timeout.__class__(SEED_TIMEOUT_S)
        reply = await send(ctx, SEED.model_copy(update={"body": {"tier": tier}}))
        if reply.status != 200 or not isinstance(reply.body, dict):
            raise SmokeSystemError(
                f"seeding tier {tier!r} failed: status {reply.status}: {reply.excerpt()}"
            )
        return reply.body


@flow(name="seed", flow_run_name="seed-{environment}-{tier}", persist_result=False)
async def seed(
    environment: str = "sandbox",
    tier: Tier = "smoke",
) -> dict[str, Any]:
    """Seed the environment's test data; running it twice changes nothing.

    Args:
        environment: The environment to seed: a SmokeEnvironment block's name.
        tier: How much data: `smoke` 2 tenants; `dev` 10; `perf` 100 and 50,000+ records.
    """
    await resolve_environment(environment)
    return await seed_tier(environment, tier)
