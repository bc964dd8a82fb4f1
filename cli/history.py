"""``smoke history``: the last gate runs of an environment and each journey's pass rate."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort

from blocks.prefect_api import require_api
from smoke.results import GateResult, Status
from tasks.report import artifact_key, parse_result_markdown

GATE_FLOW = "release-gate"


async def gate_history(environment: str, last: int) -> list[tuple[str, str, GateResult | None]]:
    """(start time, state, result) of the last ``last`` gate runs of ``environment``."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[GATE_FLOW])),
            # Scheduled runs (a monitor's next ones) are the future, not history.
            flow_run_filter=FlowRunFilter(
                parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED])
                ),
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=max(last * 5, 50),
        )
        mine = [r for r in runs if r.parameters.get("environment") == environment][:last]
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[artifact_key("result", environment)])
            ),
            limit=200,
        )
    by_run = {a.flow_run_id: a for a in artifacts}
    out = []
    for run in mine:
        artifact = by_run.get(run.id)
        result = parse_result_markdown(str(artifact.data or "")) if artifact else None
        when = run.start_time.strftime("%Y-%m-%d %H:%M") if run.start_time else "not started"
        out.append((when, run.state_name or "?", result))
    return out


def history(environment: str, last: int) -> int:
    """Print the table; exit 0."""
    require_api()
    rows = asyncio.run(gate_history(environment, last))
    if not rows:
        print(f"No gate runs of {environment!r} on this Prefect API yet.")
        return 0
    print(f"Last {len(rows)} gate run(s) of {environment}:")
    passed: dict[str, list[bool]] = defaultdict(list)
    for when, state, result in rows:
        verdict = result.verdict.value if result else f"({state})"
        version = (result.version if result else None) or "-"
        mode = result.mode if result else "-"
        failed = ", ".join(c.key for c in result.problems()[:3]) if result else ""
        print(f"  {when}  {verdict:<6} {mode:<8} version {version:<12} {failed}")
        for journey in result.journeys if result else []:
            if journey.status is not Status.SKIPPED:
                passed[journey.name].append(journey.status not in (Status.FAILED, Status.ERROR))
    if passed:
        print("Pass rate per journey:")
        for name, outcomes in passed.items():
            rate = 100 * sum(outcomes) / len(outcomes)
            print(f"  {name:<11} {rate:5.1f} %  ({sum(outcomes)}/{len(outcomes)} runs)")
    return 0
