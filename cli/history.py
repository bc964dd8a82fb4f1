"""``smoke history``: the last gate runs of an environment and each journey's pass rate.

Runs are found by their ``env:<name>`` tag on the server (``smoke/status.py``); each
run's verdict comes from the status document it recorded (``tasks/status.py``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort

from blocks.prefect_api import require_api
from smoke.errors import ConfigError
from smoke.status import env_tag, pass_rates
from tasks.report import artifact_key

GATE_FLOW = "release-gate"
# The API's default page limit: one request answers for every run asked for.
MAX_LAST = 200


async def gate_history(environment: str, last: int) -> list[dict[str, Any]]:
    """The last ``last`` gate runs of ``environment``, newest first, one dict each.

    Each has the run's id, name, start time and state; ``verdict``, ``version``,
    ``journeys`` and the rest of its status document when it recorded one (``verdict``
    is None for a run still running or one that ended without a verdict).
    """
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[GATE_FLOW])),
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[env_tag(environment)]),
                parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
                # Scheduled runs (a monitor's next ones) are the future, not history.
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED])
                ),
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=last,
        )
        artifacts = (
            await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[artifact_key("status", environment)]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in runs]),
                ),
                limit=MAX_LAST,
            )
            if runs
            else []
        )
    documents = {a.flow_run_id: a.data for a in artifacts if isinstance(a.data, dict)}
    rows = []
    for run in runs:
        document = documents.get(run.id) or {}
        rows.append(
            {
                "flow_run_id": str(run.id),
                "flow_run_name": run.name,
                "start_time": run.start_time.isoformat() if run.start_time else None,
                "state": run.state_name,
                "verdict": None,
                "version": run.parameters.get("version"),
                "mode": run.parameters.get("mode") or "gate",
                "journeys": {},
                "problems": [],
                **{k: v for k, v in document.items() if k not in ("schema", "environment")},
            }
        )
    return rows


def history_document(environment: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``smoke history --json`` prints: the runs and each journey's pass rate."""
    return {
        "environment": environment,
        "runs": rows,
        "pass_rate": pass_rates([r["journeys"] for r in rows if r["verdict"]]),
    }


def history(environment: str, last: int, as_json: bool = False) -> int:
    """Print the table (or the JSON document); exit 0."""
    if not 1 <= last <= MAX_LAST:
        raise ConfigError(f"--last must be between 1 and {MAX_LAST}, not {last}")
    require_api()
    rows = asyncio.run(gate_history(environment, last))
    if as_json:
        print(json.dumps(history_document(environment, rows), indent=2))
        return 0
    if not rows:
        print(f"No gate runs of {environment!r} on this Prefect API yet.")
        return 0
    print(f"Last {len(rows)} gate run(s) of {environment}:")
    for row in rows:
        when = (row["start_time"] or "not started")[:16].replace("T", " ")
        verdict = row["verdict"] or f"({row['state'] or '?'})"
        failed = ", ".join(row["problems"][:3])
        print(
            f"  {when}  {verdict:<6} {row['mode']:<8} version {row['version'] or '-':<12} {failed}"
        )
    rates = history_document(environment, rows)["pass_rate"]
    if rates:
        print("Pass rate per journey:")
        for name, rate in rates.items():
            print(
                f"  {name:<11} {100 * rate['rate']:5.1f} %  ({rate['passed']}/{rate['runs']} runs)"
            )
    return 0
