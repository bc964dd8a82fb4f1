"""Signals stop a run within seconds, never as PASS, with nothing left behind.

Every command here records to one local Prefect server (`smoke server start` under a
Prefect home of this module), so the environment's slot can be read back after each
signal. SIGINT, SIGTERM and a Ctrl-C to the whole process group are sent at start-up,
mid-gate and while the gate waits for its environment's slot; SIGKILL mid-gate must
not strand the environment for the next gate.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.prefect_server import SMOKE, run_smoke
from tests.support.processes import alive, descendants

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STOP_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("signals-prefect-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PREFECT_"))}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    started = run_smoke(["server", "start", "--port", "0"], env=env, cwd=home, timeout=300)
    assert started.returncode == 0, started.stdout + started.stderr
    api = json.loads((home / "smoke-server.json").read_text())["port"]
    env["TEST_API"] = f"http://127.0.0.1:{api}/api"
    try:
        yield env
    finally:
        run_smoke(["server", "stop"], env=env, cwd=home)


class Smoke:
    """A `smoke` command in a session of its own, its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.out = cwd / f"out-{time.monotonic_ns()}.log"
        self.json = cwd / f"result-{time.monotonic_ns()}.json"
        with self.out.open("wb") as out:
            self.proc = subprocess.Popen(
                [SMOKE, *args, "--json", str(self.json)],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for(self, words: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while words not in self.text():
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {words!r} in:\n{self.text()}"
            time.sleep(0.2)

    def descendants(self) -> set[int]:
        return descendants([self.proc.pid])

    def signal(self, signum: int, *, group: bool) -> tuple[int, float]:
        started = time.monotonic()
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        return code, time.monotonic() - started


def active_slots(env: dict[str, str]) -> int:
    reply = httpx.get(f"{env['TEST_API']}/v2/concurrency_limits/smoke-env-sandbox", timeout=30)
    return int(reply.json()["active_slots"]) if reply.status_code == 200 else 0


def assert_stopped_cleanly(run: Smoke, code: int, took: float, signum: int, kids: set[int]) -> None:
    assert code == 128 + signum, run.text()[-3000:]
    assert took <= STOP_WITHIN_S, f"took {took:.1f} s:\n{run.text()[-2000:]}"
    result = json.loads(run.json.read_text())
    assert (result["verdict"], result["error_kind"]) == ("ERROR", "cancelled")
    assert result["signal"] == signal.Signals(signum).name
    assert result["exit_code"] == 128 + signum
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in kids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in kids if alive(pid)], "processes left behind"


@pytest.mark.parametrize(
    ("when", "signum", "group"),
    [
        ("mid-gate", signal.SIGINT, False),
        ("mid-gate", signal.SIGTERM, False),
        ("mid-gate", signal.SIGINT, True),
        ("start-up", signal.SIGINT, True),
        ("start-up", signal.SIGTERM, False),
    ],
)
def test_a_signal_stops_the_run_within_seconds_and_frees_the_slot(
    local_server: dict[str, str], tmp_path: Path, when: str, signum: int, group: bool
) -> None:
    run = Smoke(["demo"], local_server, tmp_path)
    run.wait_for("passed   preflight." if when == "mid-gate" else "Starting the local sandbox")
    kids = run.descendants()
    code, took = run.signal(signum, group=group)
    assert_stopped_cleanly(run, code, took, signum, kids)
    assert active_slots(local_server) == 0
    if when == "mid-gate":
        assert "passed   preflight." in run.text()
        assert "PASS" not in run.text().split("ERROR")[-1]


def test_a_signal_while_waiting_for_the_slot_stops_only_the_waiting_run(
    local_server: dict[str, str], tmp_path: Path
) -> None:
    first = Smoke(["demo"], local_server, tmp_path)
    first.wait_for("passed   preflight.")
    waiting = Smoke(["demo"], local_server, tmp_path)
    waiting.wait_for("Journeys: ")
    time.sleep(3)  # its gate is waiting for the slot the first run holds
    assert "passed" not in waiting.text()
    kids = waiting.descendants()
    code, took = waiting.signal(signal.SIGTERM, group=False)
    assert_stopped_cleanly(waiting, code, took, signal.SIGTERM, kids)
    assert first.proc.wait(timeout=240) == 0, first.text()[-3000:]
    assert active_slots(local_server) == 0


def test_a_gate_killed_mid_run_does_not_strand_the_environment(
    local_server: dict[str, str], tmp_path: Path
) -> None:
    killed = Smoke(["demo"], local_server, tmp_path)
    killed.wait_for("passed   preflight.")
    os.killpg(killed.proc.pid, signal.SIGKILL)
    killed.proc.wait(timeout=30)
    assert active_slots(local_server) == 1  # held by a run that is gone
    # The next gate waits at most the lease time (60 s) plus the repossessor's round.
    after = Smoke(["demo"], local_server, tmp_path)
    assert after.proc.wait(timeout=400) == 0, after.text()[-3000:]
    assert json.loads(after.json.read_text())["verdict"] == "PASS"
