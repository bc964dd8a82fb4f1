"""Evidence and the JSON result through a Prefect storage block, linked by link artifacts.

The block is ``SMOKE_EVIDENCE_STORAGE`` (a saved block, ``type-slug/name``, e.g.
``remote-file-system/s3-evidence``), else the ``local-file-system/smoke-evidence`` block,
saved on first use with its basepath under the Prefect home. The worker that runs the gate
and the CLI that follows it load the same block by name from the Prefect API.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

from prefect.artifacts import acreate_link_artifact
from prefect.blocks.core import Block
from prefect.filesystems import LocalFileSystem, WritableFileSystem
from prefect.settings import PREFECT_HOME

from smoke.evidence_store import (
    evidence_key,
    parse_result_json,
    result_json,
    result_key,
    storage_url,
)
from smoke.results import GateResult, Status

STORAGE_ENV = "SMOKE_EVIDENCE_STORAGE"
DEFAULT_BLOCK = "smoke-evidence"


async def evidence_storage() -> WritableFileSystem:
    """The configured storage block, or the default local one (saved when missing)."""
    name = os.environ.get(STORAGE_ENV)
    if name:
        return cast(WritableFileSystem, await Block.aload(name))
    try:
        return cast(WritableFileSystem, await LocalFileSystem.aload(DEFAULT_BLOCK))
    except ValueError:  # not saved yet
        block = LocalFileSystem(basepath=str(Path(PREFECT_HOME.value()) / "evidence"))
        await block.asave(DEFAULT_BLOCK, overwrite=True)
        return block


def _basepath(storage: WritableFileSystem) -> str:
    return str(getattr(storage, "basepath", "") or "")


async def store_evidence(result: GateResult, storage: WritableFileSystem) -> None:
    """Copy every evidence file into ``storage``, note its key and URL, link failed checks'."""
    run_id = result.flow_run_id or "local"
    for check in result.all_checks():
        for ev in check.evidence:
            if not ev.path or not Path(ev.path).is_file():
                continue
            key = evidence_key(run_id, Path(ev.path).name)
            await storage.awrite_path(key, Path(ev.path).read_bytes())  # type: ignore[attr-defined]
            ev.stored_key, ev.stored_url = key, storage_url(_basepath(storage), key)
            if check.status in (Status.FAILED, Status.ERROR):
                await acreate_link_artifact(
                    link=ev.stored_url,
                    link_text=f"{check.key} {ev.kind}",
                    description=f"Evidence of {check.key} ({ev.kind}), storage key `{key}`",
                )


async def store_result(result: GateResult, storage: WritableFileSystem) -> str:
    """Write the scrubbed JSON result into ``storage``; its key."""
    key = result_key(result.flow_run_id or "local")
    await storage.awrite_path(key, result_json(result).encode("utf-8"))  # type: ignore[attr-defined]
    return key


async def read_result(storage: WritableFileSystem, flow_run_id: str) -> GateResult | None:
    """The JSON result a gate run stored; None when it is missing or unreadable."""
    try:
        data = await storage.aread_path(result_key(flow_run_id))  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return None
    return parse_result_json(data)


async def fetch_evidence(
    result: GateResult, storage: WritableFileSystem, folder: Path
) -> list[Path]:
    """Copy the run's stored evidence into ``folder``; paths in ``result`` point at the copies."""
    fetched: list[Path] = []
    for check in result.all_checks():
        for ev in check.evidence:
            if not ev.stored_key:
                continue
            target = folder / Path(ev.stored_key).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(await storage.aread_path(ev.stored_key))  # type: ignore[attr-defined]
            ev.path = str(target.resolve())
            fetched.append(target)
    return fetched
