"""One gate at a time per environment: a Prefect global concurrency limit per environment.

Two runs against one environment would share its reserved test identity (one
subscription, one onboarding signup), so they are serialized by design: in gate mode a
later run waits for the slot; in monitor mode a run that would overlap the previous one
is cancelled instead of piling up.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

# The slot's lease is renewed while the gate runs; a killed run frees it this soon
# (Prefect's server accepts 60 s at the least).
LEASE_S = 60.0


def limit_name(environment: str) -> str:
    """``smoke-env-<slug>``: the concurrency limit that serializes one environment."""
    return "smoke-env-" + (re.sub(r"[^a-z0-9-]+", "-", environment.lower()).strip("-") or "env")


async def ensure_limit(environment: str) -> str:
    """Create the environment's limit (one slot) unless it exists; its name."""
    name = limit_name(environment)
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # Another run may have created it a moment ago.
            with suppress(ObjectAlreadyExists):
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
                )
    return name


@asynccontextmanager
async def environment_slot(environment: str, wait_s: float | None) -> AsyncIterator[None]:
    """Hold the environment's slot; TimeoutError when it is not free within ``wait_s``."""
    name = await ensure_limit(environment)
    async with concurrency(
        name, occupy=1, timeout_seconds=wait_s, lease_duration=LEASE_S, strict=True
    ):
        yield
