"""``smoke announce``: emit `release.deployed`, which the release-gate deployment's trigger runs on."""

from __future__ import annotations

import asyncio

from prefect.events import Event
from prefect.events.clients import get_events_client

from blocks.prefect_api import require_api
from smoke.errors import SmokeSystemError

EVENT = "release.deployed"


async def emit(environment: str, version: str) -> Event:
    """Send the event and wait until the server has it (a CLI exits right after)."""
    event = Event(
        event=EVENT,
        resource={
            "prefect.resource.id": f"smoke.release.{environment}",
            "smoke.environment": environment,
        },
        payload={"environment": environment, "version": version},
    )
    async with get_events_client(reconnection_attempts=3, checkpoint_every=1) as client:
        await client.emit(event)
    return event


def announce(environment: str, version: str) -> int:
    """Emit the event for ``environment`` at ``version``; the gate starts by itself."""
    require_api()
    try:
        event = asyncio.run(emit(environment, version))
    except Exception as e:
        raise SmokeSystemError(
            f"The event could not be sent to the Prefect API: {type(e).__name__}: {e}"
        ) from e
    print(f"emitted {EVENT} for {environment} {version} (event {event.id})")
    print("the release-gate deployment's trigger starts a gate run; follow it with `smoke history`")
    return 0
