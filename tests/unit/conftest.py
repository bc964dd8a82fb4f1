"""Unit-test isolation: no developer setting or secret reaches a test, none leaks between tests."""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture(scope="session")
def _empty_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder every unit test starts in, emptied after each test.

    One for the session, not one per test: pytest numbers a new temporary folder by
    listing every folder made before it, so a thousand of them cost most of a second.
    """
    return tmp_path_factory.mktemp("cwd")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, _empty_folder: Path) -> Iterator[None]:
    """Clear every SMOKE_* variable and run from an empty folder (no stray ``.env``)."""
    for name in list(os.environ):
        if name.startswith("SMOKE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(_empty_folder)
    scrubber.clear()
    yield
    scrubber.clear()
    # What a test left in the folder goes, so the next one starts empty too.
    for entry in list(_empty_folder.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


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
