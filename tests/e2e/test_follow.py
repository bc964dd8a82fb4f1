"""`smoke gate --via-deployment` follows a run of any length: every progress line, once.

The run is written straight through the real server's API (no worker): 600 log lines,
pairs of them with the same timestamp, a noise line every fourth, and the last batch
with the verdict line arriving after the run's final state, as a worker's does.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import LogCreate
from prefect.states import Completed, Running

from deployments.remote import follow
from tests.support.prefect_server import PrefectServer

pytestmark = pytest.mark.e2e

LINES = 600
LATE = 40  # lines sent after the final state


@flow(name="long-gate")
def long_gate() -> None:
    """Only a name for the run the test writes; never called."""


def _messages() -> list[str]:
    return [
        f"worker noise {i}" if i % 4 == 3 else f"passed   journey.check_{i:03d}  ({i} ms)"
        for i in range(LINES)
    ]


async def _write_run(client: PrefectClient, run_id: Any) -> None:
    base = datetime.now(UTC)
    logs = [
        LogCreate(
            name="prefect.flow_runs",
            level=logging.INFO,
            message=message,
            # Two lines per millisecond: ties in the sort order.
            timestamp=base + timedelta(milliseconds=i // 2),
            flow_run_id=run_id,
        )
        for i, message in enumerate(_messages())
    ]
    early, late = logs[:-LATE], logs[-LATE:]
    for start in range(0, len(early), 50):
        await client.create_logs(early[start : start + 50])
        await asyncio.sleep(0.05)
    await client.set_flow_run_state(run_id, Completed(), force=True)
    await asyncio.sleep(1.0)
    verdict = LogCreate(
        name="prefect.flow_runs",
        level=logging.INFO,
        message="verdict PASS: sandbox 1.0.0",
        timestamp=base + timedelta(seconds=5),
        flow_run_id=run_id,
    )
    await client.create_logs([*late, verdict])


def test_follow_shows_every_progress_line_of_a_run_with_600_log_lines(
    prefect_server: PrefectServer,
) -> None:
    said: list[str] = []

    async def go() -> Any:
        async with PrefectClient(prefect_server.api_url) as client:
            run = await client.create_flow_run(long_gate, state=Running())
            writer = asyncio.create_task(_write_run(client, run.id))
            state = await follow(client, run.id, 120, said.append)
            await writer
            return state

    state = asyncio.run(go())
    assert state is not None
    assert state.is_completed()
    progress = [m for m in _messages() if m.startswith("passed")]
    assert len(progress) > 200
    assert [line for line in said if line.startswith("  passed")] == [f"  {m}" for m in progress]
