"""Unit-test isolation: no developer setting or secret reaches a test, none leaks between tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smoke.scrub import scrubber

SNAPSHOTS = Path(__file__).with_name("snapshots")
# Regenerate snapshots with `SMOKE_UPDATE_SNAPSHOTS=1 uv run pytest tests/unit`, then review
# the diff. Read at import time: the autouse fixture below clears every SMOKE_* variable.
UPDATE_SNAPSHOTS = os.environ.get("SMOKE_UPDATE_SNAPSHOTS") == "1"
UNIT = Path(__file__).resolve().parent


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a unit-only run that imported Prefect: the suite must stay fast and Prefect-free."""
    # Checked at the end, so an import inside a test body counts as well as a module import.
    # Only for a run of unit tests alone: other suites import Prefect on purpose.
    items = getattr(session, "items", [])
    only_unit = bool(items) and all(Path(str(i.path)).is_relative_to(UNIT) for i in items)
    if only_unit and "prefect" in sys.modules:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "the unit suite imported Prefect: keep Prefect-free logic out of tasks/, "
                "flows/ and blocks/, or move the test to tests/integration",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
