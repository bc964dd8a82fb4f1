"""``smoke announce``: emit `release.deployed`, which the release-gate deployment's trigger runs on."""

from __future__ import annotations

from prefect.events import emit_event

from deployments.blocks_admin import require_api
from smoke.errors import SmokeSystemError

EVENT = "release.deployed"


def announce(environment: str, version: str) -> int:
    """Emit the event for ``environment`` at ``version``; the gate starts by itself."""
    require_api()
    event = emit_event(
        event=EVENT,
        resource={
            "prefect.resource.id": f"smoke.release.{environment}",
            "smoke.environment": environment,
        },
        payload={"environment": environment, "version": version},
    )
    if event is None:
        raise SmokeSystemError("The event could not be emitted: is PREFECT_API_URL reachable?")
    print(f"emitted {EVENT} for {environment} {version} (event {event.id})")
    print("the release-gate deployment's trigger starts a gate run; follow it with `smoke history`")
    return 0
