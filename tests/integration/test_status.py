"""A gate run in this process tags itself, records its status document and badge, and
`smoke history --json` finds it through the server-side tag filter."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from cli.history import history
from smoke.results import GateResult


def _run_and_artifacts(run_id: str) -> tuple[Any, dict[str, Any]]:
    async def read() -> tuple[Any, dict[str, Any]]:
        async with get_client() as client:
            run = await client.read_flow_run(UUID(run_id))
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
        return run, {a.key: a for a in artifacts if a.key}

    return asyncio.run(read())


def test_a_gate_run_is_tagged_and_records_its_status_and_history_finds_it(
    run_gate: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    result: GateResult = run_gate("sandbox", version="1.0.0", journeys=["dashboard"])
    assert result.flow_run_id
    run, artifacts = _run_and_artifacts(result.flow_run_id)
    assert {"env:sandbox", "mode:gate", "version:1.0.0"} <= set(run.tags)

    status = artifacts["smoke-status-sandbox"]
    assert status.type == "json"
    assert status.data["verdict"] == result.verdict.value
    assert status.data["version"] == "1.0.0"
    assert status.data["journeys"] == {j.name: j.status.value for j in result.journeys}
    badge = artifacts["smoke-badge-sandbox"]
    assert badge.type == "svg"
    assert badge.data.startswith("<svg")
    assert f">{result.verdict.value}</text>" in badge.data

    assert history("sandbox", 5, as_json=True) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["environment"] == "sandbox"
    newest = document["runs"][0]
    assert newest["flow_run_id"] == result.flow_run_id
    assert newest["verdict"] == result.verdict.value
    assert newest["journeys"] == status.data["journeys"]
    assert document["pass_rate"]["dashboard"]["runs"] >= 1
    # Earlier runs of the shared harness may add other journeys' rates.
    assert {j.name for j in result.journeys} <= set(document["pass_rate"])

    # Another environment's filter finds none of it: the filtering is on the server.
    assert history("elsewhere", 5, as_json=True) == 0
    assert json.loads(capsys.readouterr().out) == {
        "environment": "elsewhere",
        "runs": [],
        "pass_rate": {},
    }
