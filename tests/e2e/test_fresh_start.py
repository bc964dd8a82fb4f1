"""A brand-new machine: a Prefect home that has never been used, then `smoke demo`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.support.prefect_server import run_smoke
from tests.support.processes import alive

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_from_a_new_prefect_home_passes_and_leaves_a_local_server_to_stop(
    tmp_path: Path,
) -> None:
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PREFECT_"))}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    try:
        demo = run_smoke(["demo", "--json", "result.json"], env=env, cwd=tmp_path, timeout=600)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert json.loads((tmp_path / "result.json").read_text())["verdict"] == "PASS"
        assert "Starting a local Prefect server on http://127.0.0.1:" in demo.stdout
        ui = re.search(
            r"^Prefect UI: (http://127\.0\.0\.1:\d+)/runs/flow-run/\S+", demo.stdout, re.M
        )
        assert ui, demo.stdout[-1500:]
        assert "stop it: smoke server stop" in demo.stdout

        status = run_smoke(["server", "status"], env=env, cwd=tmp_path)
        assert status.returncode == 0
        assert f"UI:  {ui.group(1)}" in status.stdout
        # Kept on the server: history reads the run back.
        history = run_smoke(["history", "--env", "sandbox"], env=env, cwd=tmp_path)
        assert history.returncode == 0, history.stdout + history.stderr
        assert "PASS" in history.stdout
    finally:
        state = home / "smoke-server.json"
        pid = json.loads(state.read_text())["pid"] if state.exists() else None
        stop = run_smoke(["server", "stop"], env=env, cwd=tmp_path)
    assert stop.returncode == 0
    assert "Stopped the local Prefect server" in stop.stdout
    assert pid is not None
    assert not alive(pid)
    assert run_smoke(["server", "status"], env=env, cwd=tmp_path).returncode == 1
