"""``smoke unlock --env NAME``: free an environment's slot that no live run holds.

A gate takes its environment's slot with a lease that Prefect renews while the run
lives; when the holder dies the server's repossessor frees it within the lease time
(60 s). This is for an operator who cannot wait, or a server whose leases were lost:
it refuses while a gate run that can still be alive holds the slot.
"""

from __future__ import annotations

import asyncio

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.exceptions import ObjectNotFound

from blocks.prefect_api import require_api
from smoke.errors import ConfigError
from tasks.serialize import LEASE_S, limit_name, live_gate_runs


async def unlock(environment: str) -> int:
    """Free the slot unless a live run holds it; print what was done."""
    name = limit_name(environment)
    async with get_client() as client:
        try:
            limit = await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            print(f"Environment {environment!r} has no slot yet ({name}): nothing to unlock.")
            return 0
        if not limit.active_slots:
            print(f"The slot of {environment!r} ({name}) is free.")
            return 0
        live = await live_gate_runs(client, environment)
        if live:
            run = live[0]
            raise ConfigError(
                f"Refusing to unlock {environment!r}: gate run {run.name!r} ({run.id}) is "
                f"running and within its deadline; it frees the slot when it ends, or its "
                f"lease expires {LEASE_S:g} s after it dies."
            )
        await client.update_global_concurrency_limit(
            name, GlobalConcurrencyLimitUpdate(active_slots=0)
        )
    print(f"Freed the slot of {environment!r} ({name}): no live gate run held it.")
    return 0


def cmd_unlock(environment: str) -> int:
    """``smoke unlock``."""
    require_api()
    return asyncio.run(unlock(environment))
