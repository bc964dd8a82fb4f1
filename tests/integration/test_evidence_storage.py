"""Evidence through the storage block: a failed browser check's screenshot and trace are
stored, linked by link artifacts, and fetched back through the same block."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from smoke.results import CheckResult, GateResult, Verdict

BLOCK = "evidence-under-test"


@pytest.fixture
def storage_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_env: str) -> Path:
    """A LocalFileSystem block of its own, chosen by SMOKE_EVIDENCE_STORAGE."""
    from prefect.filesystems import LocalFileSystem

    from tasks.evidence import STORAGE_ENV

    folder = tmp_path / "storage"
    LocalFileSystem(basepath=str(folder)).save(BLOCK, overwrite=True)
    monkeypatch.setenv(STORAGE_ENV, f"local-file-system/{BLOCK}")
    return folder


def _ui_check(result: GateResult) -> CheckResult:
    return next(c for c in result.all_checks() if c.key == "dashboard.ui")


def test_failed_browser_check_evidence_is_stored_linked_and_fetched_back(
    run_gate: Any, fault: Any, storage_dir: Path, tmp_path: Path, sandbox_env: str
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from tasks.evidence import evidence_storage, fetch_evidence, read_result

    fault("dashboard.ui_js_error")
    result = run_gate(sandbox_env, journeys=["dashboard"])
    assert result.verdict is Verdict.FAIL, result.reasons
    assert result.flow_run_id

    stored = {ev.kind: ev for ev in _ui_check(result).evidence if ev.stored_key}
    assert {"screenshot", "trace"} <= stored.keys(), _ui_check(result).evidence
    for ev in stored.values():
        assert ev.stored_key
        assert ev.path
        kept = storage_dir / ev.stored_key
        assert kept.read_bytes() == Path(ev.path).read_bytes()
        assert ev.stored_url == kept.resolve().as_uri()

    async def links() -> list[str]:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[result.flow_run_id])
                )
            )
        # Link artifacts are markdown `[text](link)` without a key, described as evidence.
        return [
            str(a.data)
            for a in artifacts
            if a.key is None and (a.description or "").startswith("Evidence of dashboard.ui")
        ]

    linked = asyncio.run(links())
    for ev in stored.values():
        assert f"[dashboard.ui {ev.kind}]({ev.stored_url})" in linked, linked

    async def fetch_back() -> tuple[GateResult | None, list[Path]]:
        storage = await evidence_storage()
        again = await read_result(storage, str(result.flow_run_id))
        assert again is not None
        # The worker's own files are gone: only the storage block can give them back.
        for ev in _ui_check(again).evidence:
            if ev.path and ev.stored_key:
                Path(ev.path).unlink(missing_ok=True)
        return again, await fetch_evidence(again, storage, tmp_path / "report" / "evidence")

    again, fetched = asyncio.run(fetch_back())
    assert again is not None
    assert again.verdict is Verdict.FAIL
    assert {p.name for p in fetched} >= {Path(str(ev.stored_key)).name for ev in stored.values()}
    for ev in _ui_check(again).evidence:
        if ev.stored_key:
            local = Path(str(ev.path))
            assert local.parent == (tmp_path / "report" / "evidence").resolve()
            assert local.read_bytes() == (storage_dir / ev.stored_key).read_bytes()


def test_the_cli_carries_its_report_folder_to_the_flow_not_through_the_environment(
    prefect: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from prefect import flow

    from blocks.resolve import EVIDENCE_ENV, evidence_folder, evidence_root
    from cli.run import run_flow

    @flow
    async def where() -> str:
        return str(evidence_root())

    monkeypatch.setenv(EVIDENCE_ENV, str(tmp_path / "from-the-environment"))
    with evidence_folder(tmp_path / "report" / "evidence"):
        seen = run_flow(lambda: where(return_state=True), deadline_s=60)
    assert seen == str((tmp_path / "report" / "evidence").resolve())
    assert os.environ[EVIDENCE_ENV] == str(tmp_path / "from-the-environment")
    assert evidence_root() == tmp_path / "from-the-environment"  # the block has ended
