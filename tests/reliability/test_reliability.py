"""Reliability evidence (`make soak`): the gate never lies, never cries wolf, never hangs.

- the fault matrix through `smoke gate` itself: verdict, exit code, failing checks
- a soak of many gate runs with transient faults on: no FAIL, flaky checks counted
- as many production-mode runs: no ERROR, no write beyond the login
- Slack down (refused, 500, a storm of 429s): the verdict is unaffected, the failure reported
- two gates on one environment at once: serialized, no interference
- a target that accepts connections and never answers: the deadline holds

Figures are printed (run with -s) and recorded in docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from blocks.resolve import forget_local_environment, register_local_environment
from sandbox import RunningSandbox
from smoke.local_sandbox import sandbox_config
from smoke.results import GateResult, Status, Verdict
from tests.support.fault_table import FAULT_TABLE
from tests.support.prefect_server import run_smoke
from tests.support.requests_log import record_requests, to_target, writes_beyond_login
from tests.support.slack_server import FakeSlack

SOAK_RUNS = int(os.environ.get("SMOKE_SOAK_RUNS", "50"))


def report(line: str) -> None:
    print(f"\n[reliability] {line}", flush=True)


def outputs(folder: Path) -> list[str]:
    """`smoke gate` options that write the JSON result and the report into ``folder``."""
    return ["--json", str(folder / "r.json"), "--report-dir", str(folder)]


def written_result(folder: Path) -> GateResult:
    """The GateResult `smoke gate --json` wrote into ``folder``."""
    return GateResult.from_json_dict(json.loads((folder / "r.json").read_text()))


# --- the fault matrix through the command line ------------------------------------------


@pytest.mark.parametrize("name", sorted(FAULT_TABLE))
def test_fault_matrix_through_smoke_gate(name: str, tmp_path: Path) -> None:
    journeys, verdict, must_fail, warned = FAULT_TABLE[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PREFECT_API"))}
    env["SMOKE_JOURNEYS"] = (
        '{"billing": {"poll_timeout_s": 6}, "onboarding": {"welcome_email": {"timeout_s": 3}}}'
    )
    proc = run_smoke(
        [
            *("gate", "--env", "sandbox", "--fault", name, "--version", "1.0.0"),
            *("--journeys", ",".join(journeys), *outputs(tmp_path)),
        ],
        env=env,
        cwd=tmp_path,
    )
    result = written_result(tmp_path)
    assert proc.returncode == (1 if verdict is Verdict.FAIL else 0), proc.stdout[-3000:]
    assert result.verdict is verdict
    assert {c.key for c in result.problems()} == must_fail
    for key in must_fail:
        assert key in proc.stdout  # the summary or the live progress names the check
    statuses = {c.key: c.status for c in result.all_checks()}
    for key, status in warned.items():
        assert statuses[key] is status


# --- soak --------------------------------------------------------------------------------


@pytest.mark.timeout(SOAK_RUNS * 60)  # the suite's 300 s is per gate-sized test
def test_soak_with_transient_faults_never_fails(run_gate: Any, fault: Any) -> None:
    fault("transient.http_503", "transient.slow_start")
    verdicts: dict[str, int] = {}
    flaky = degraded = 0
    walls = []
    for _ in range(SOAK_RUNS):
        started = time.perf_counter()
        result = run_gate("sandbox", version="1.0.0")
        walls.append(time.perf_counter() - started)
        verdicts[result.verdict.value] = verdicts.get(result.verdict.value, 0) + 1
        flaky += sum(c.status is Status.FLAKY for c in result.all_checks())
        degraded += sum(c.status is Status.DEGRADED for c in result.all_checks())
        assert result.verdict is Verdict.PASS, {c.key: c.message for c in result.problems()}
        if len(walls) % 10 == 0:
            report(f"soak: {len(walls)}/{SOAK_RUNS} runs PASS, {flaky} flaky check results so far")
    walls.sort()
    report(
        f"soak: {SOAK_RUNS} gate runs with transient.http_503 + transient.slow_start: {verdicts}; "
        f"{flaky} flaky and {degraded} degraded check results; median wall {walls[len(walls) // 2]:.1f} s"
    )


@pytest.mark.timeout(SOAK_RUNS * 60)
def test_production_mode_runs_never_error_and_write_nothing_beyond_login(
    run_gate: Any, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMOKE_PRODUCTION", "true")
    sent = record_requests(monkeypatch)
    verdicts: dict[str, int] = {}
    errors: list[str] = []
    for n in range(1, SOAK_RUNS + 1):
        result = run_gate("sandbox", version="1.0.0")
        verdicts[result.verdict.value] = verdicts.get(result.verdict.value, 0) + 1
        errors += [
            f"run {n}: {c.key}: {c.message}"
            for c in result.all_checks()
            if c.status is Status.ERROR
        ]
        assert result.verdict is Verdict.PASS, {c.key: c.message for c in result.problems()}
        if n % 10 == 0:
            report(f"production: {n}/{SOAK_RUNS} runs PASS, {len(errors)} errors so far")
    writes = writes_beyond_login(sent, sandbox.base_url)
    report(
        f"production: {SOAK_RUNS} production-mode gate runs: {verdicts}; {len(errors)} ERROR check "
        f"results; {len(to_target(sent, sandbox.base_url))} requests to the target, "
        f"{len(writes)} writes beyond the login"
    )
    assert errors == []
    assert writes == []


# --- Slack down ----------------------------------------------------------------------------


@pytest.fixture
def slack_env(sandbox_env: str, sandbox: RunningSandbox) -> Iterator[tuple[str, FakeSlack]]:
    with FakeSlack() as slack:
        config = sandbox_config(sandbox).model_copy(
            update={
                "name": "sandbox-slack",
                "slack_token": SecretStr("xoxb-reliability"),
                "slack_channel": "#smoke",
                "slack_api_url": slack.api_url,
            }
        )
        register_local_environment(config)
        yield "sandbox-slack", slack
        forget_local_environment("sandbox-slack")


@pytest.mark.parametrize("outage", ["connection refused", "500", "429 storm"])
def test_slack_down_never_changes_the_verdict(
    outage: str, slack_env: tuple[str, FakeSlack], run_gate: Any, fault: Any
) -> None:
    name, slack = slack_env
    fault("dashboard.feed_500")
    if outage == "connection refused":
        slack.stop_listening()
    elif outage == "500":
        slack.fail(100)
    else:
        slack.rate_limit(100, retry_after=1)
    started = time.perf_counter()
    result = run_gate(name, version="1.0.0", journeys=["dashboard"])
    assert result.verdict is Verdict.FAIL  # what the product did, whatever Slack does
    assert {c.key for c in result.problems()} == {"dashboard.feed", "dashboard.ui"}
    if outage != "connection refused":
        assert len(slack.requests) >= 2, "the notification was not retried"
    slack.start()
    slack.reset()
    report(
        f"slack {outage}: verdict {result.verdict.value}, gate {time.perf_counter() - started:.1f} s"
    )


# --- two gates at once -----------------------------------------------------------------------


def test_two_gates_on_one_environment_are_serialized(sandbox_env: str) -> None:
    from flows.gate import release_gate

    async def both() -> list[GateResult]:
        states = await asyncio.gather(
            release_gate(
                environment=sandbox_env,
                version="1.0.0",
                journeys=["onboarding", "billing"],
                return_state=True,
            ),
            release_gate(
                environment=sandbox_env,
                version="1.0.0",
                journeys=["onboarding", "billing"],
                return_state=True,
            ),
        )
        return [await s.result(raise_on_failure=False) for s in states]

    first, second = asyncio.run(both())
    assert first.verdict is Verdict.PASS, first.reasons
    assert second.verdict is Verdict.PASS, second.reasons
    # Serialized: the later run waited for the earlier one, so it took at least as long
    # as the earlier one's journeys.
    slower, faster = sorted([first, second], key=lambda r: r.duration_s, reverse=True)
    busy = sum(j.duration_ms for j in faster.journeys if j.name == "billing") / 1000
    assert slower.duration_s >= busy, (slower.duration_s, busy)
    report(
        f"two gates at once: {faster.duration_s:.1f} s and {slower.duration_s:.1f} s (serialized), both PASS"
    )


# --- a target that hangs ---------------------------------------------------------------------


class Tarpit:
    """Accepts TCP connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop = True
        self._thread.join()  # no accept() on a closed socket
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_a_hung_target_ends_by_the_deadline(tmp_path: Path) -> None:
    tarpit = Tarpit()
    deadline = 20
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PREFECT_API"))}
    env |= {"SMOKE_BASE_URL": f"http://127.0.0.1:{tarpit.port}", "SMOKE_E2E_TOKEN": "tarpit-token"}
    started = time.perf_counter()
    try:
        proc = run_smoke(
            ["gate", "--env", "tarpit", "--deadline", str(deadline), *outputs(tmp_path)],
            env=env,
            cwd=tmp_path,
            timeout=deadline + 120,
        )
    finally:
        tarpit.close()
    wall = time.perf_counter() - started
    result = written_result(tmp_path)
    assert proc.returncode in (1, 3), proc.stdout[-2000:]
    assert result.verdict is not Verdict.PASS
    # The gate itself (after Prefect's start-up) ends by the deadline plus 10 s.
    assert result.duration_s <= deadline + 10, result.duration_s
    named = [c.key for c in result.problems()]
    assert any(k.startswith("preflight.") for k in named), named
    report(
        f"hung target: exit {proc.returncode}, verdict {result.verdict.value}, gate {result.duration_s:.1f} s "
        f"(deadline {deadline} s), command {wall:.1f} s, named {named}"
    )
