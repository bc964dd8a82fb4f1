"""A gate run's tags and its status artifacts, for ``smoke history`` and a status page.

Tags are set by the run itself, so every way a gate starts (the CLI in this process,
``--via-deployment``, a monitor schedule, the UI, an event trigger) ends up tagged alike.
The status document and the badge are artifacts keyed per environment: a status page
fetches the latest with ``GET /api/artifacts/smoke-status-<env>/latest`` (or
``smoke-badge-<env>``) and reads its ``data``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import Artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.runtime import flow_run

from smoke.results import GateResult
from smoke.scrub import scrub
from smoke.status import badge_svg, run_tags, status_document
from tasks.report import artifact_key

# The artifacts' types: the UI shows both as raw data; a status page reads the document
# as a JSON object and the badge as SVG text, with no parsing in between.
STATUS_TYPE = "json"
BADGE_TYPE = "svg"


async def tag_this_run(environment: str, mode: str, version: str | None) -> None:
    """Add the gate's tags to its own flow run, keeping those it was created with.

    Never raises: a run left untagged is missing from ``smoke history``, which is no
    reason to lose its verdict; the failure is logged.
    """
    run_id = flow_run.get_id()
    if run_id is None:
        return
    tags = list(dict.fromkeys([*flow_run.get_tags(), *run_tags(environment, mode, version)]))
    try:
        async with get_client() as client:
            # The API replaces a run's tags with the list it is given, hence the union.
            await client.update_flow_run(UUID(run_id), tags=tags)
    except Exception as e:  # a missing tag only hides the run from history, the verdict stands  # noqa: BLE001
        get_run_logger().warning("Could not tag the run %s: %s", tags, scrub(str(e)))


@task(
    name="record-status",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=[1, 2],
)
async def record_status(result: GateResult) -> None:
    """The environment's status document and badge as artifacts of the gate's run."""
    verdict = result.verdict.value
    await _AsGiven(
        type=STATUS_TYPE,
        key=artifact_key("status", result.environment),
        description=f"Status of {result.environment}: {verdict} (JSON)",
        data=status_document(result, datetime.now(UTC)),
    ).acreate()
    await _AsGiven(
        type=BADGE_TYPE,
        key=artifact_key("badge", result.environment),
        description=f"Status badge of {result.environment}: {verdict} (SVG)",
        data=badge_svg(result.verdict, f"smoke {result.environment}"),
    ).acreate()


class _AsGiven(Artifact):
    """An artifact whose data is stored as given (Prefect's base class stores it as a
    JSON-encoded string): the document stays a JSON object, the badge plain SVG text."""

    async def aformat(self) -> str | float | int | dict[str, Any]:
        return self.data if isinstance(self.data, dict | str) else str(self.data)
