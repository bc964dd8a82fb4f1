"""A killed browser run leaves no Playwright folders in the system temp dir.

Playwright puts traces and downloads in ``playwright-artifacts-*`` / ``playwright-tracing-*``
folders of the temp dir and removes them only when it closes; a run killed mid-trace
left them behind for good. Each launch now writes into a folder of its own under
``<tempdir>/smoke-browser``, and the next launch removes a dead run's folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from smoke.browser import ARTIFACTS_PARENT, browser_artifacts_dir

# A traced page, then wait to be killed: the state a gate is in mid-check.
TRACED_AND_WAITING = """
import time
from playwright.sync_api import sync_playwright
from smoke.browser import launch_options

with sync_playwright() as playwright:
    browser = playwright.chromium.launch(**launch_options())
    context = browser.new_context()
    context.tracing.start(screenshots=True, snapshots=True)
    context.new_page().goto("data:text/html,<h1>traced</h1>")
    print("ready", flush=True)
    time.sleep(120)
"""


def playwright_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("playwright-"))


def test_a_killed_run_leaves_no_playwright_folders_and_the_next_launch_removes_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    run = subprocess.Popen(
        [sys.executable, "-c", TRACED_AND_WAITING],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert run.stdout is not None
        assert run.stdout.readline().strip() == "ready"
        own = tmp_path / ARTIFACTS_PARENT
        assert [p.name.split("-")[0] for p in own.iterdir()] == [str(run.pid)]
        assert any(p.is_file() for p in own.rglob("*")), "the trace went elsewhere"
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the whole group: Playwright's driver too
        run.wait(timeout=30)
    time.sleep(1)  # Chromium's children exit after their parent
    assert playwright_dirs(tmp_path) == []

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    fresh = browser_artifacts_dir()
    assert [p.name for p in own.iterdir()] == [fresh.name], "the killed run's folder stayed"
