"""Unit-test isolation: no developer setting or secret reaches a test, none leaks between tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smoke.scrub import scrubber

SNAPSHOTS = Path(__file__).with_name("snapshots")
# Regenerate snapshots with `SMOKE_UPDATE_SNAPSHOTS=1 uv run pytest tests/unit`, then review
# the diff. Read at import time: the autouse fixture below clears every SMOKE_* variable.
UPDATE_SNAPSHOTS = os.environ.get("SMOKE_UPDATE_SNAPSHOTS") == "1"


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Clear every SMOKE_* variable and run from an empty folder (no stray ``.env``)."""
    for name in list(os.environ):
        if name.startswith("SMOKE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    scrubber.clear()
    yield
    scrubber.clear()


@pytest.fixture
def snapshot() -> Callable[[str, str], None]:
    """Compare text with tests/unit/snapshots/<name> exactly (or rewrite it when updating)."""

    def check(name: str, actual: str) -> None:
        path = SNAPSHOTS / name
        if UPDATE_SNAPSHOTS:
            path.write_text(actual, encoding="utf-8")
            return
        assert path.is_file(), f"missing snapshot {path}; run with SMOKE_UPDATE_SNAPSHOTS=1"
        assert actual == path.read_text(encoding="utf-8")

    return check
