"""Notify about a gate run that died before its own ``on_crashed`` hook could run.

A SIGKILLed or OOM-killed flow-run process runs no hooks; its worker marks the run
Crashed, and the `smoke-gate-crashed` Automation (created by `smoke deploy`) runs this
flow with the crashed run's id.
"""

from __future__ import annotations

from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client

from tasks.slack import notify_crash


@flow(name="notify-crash", flow_run_name="notify-crash-{flow_run_id}", persist_result=False)
async def notify_crashed_run(
    flow_run_id: str,
) -> None:
    """Post the crash message for ``flow_run_id`` through the usual incident policy.

    Args:
        flow_run_id: The id of the gate run that crashed (the Automation fills it in).
    """
    async with get_client() as client:
        crashed = await client.read_flow_run(UUID(flow_run_id))
    get_run_logger().info("gate run %s ended %s", flow_run_id, crashed.state_name)
    await notify_crash(None, crashed, crashed.state)
