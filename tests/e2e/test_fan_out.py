"""Gates for several environments at once, spread over three process workers on one pool.

Three environments, each a sandbox of its own (a gate's test identity is its
environment's, so two environments never share one product): `sandbox`, which the
command starts, and two long-running ones pushed as blocks (`smoke sandbox
--push-block`). `smoke gate --env sandbox --env fan-b --env fan-c` triggers one
release-gate run each; three workers that run one flow run at a time take them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.support.prefect_server import SMOKE, PrefectServer, process_worker, run_smoke

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

WORKERS = ("fan-worker-1", "fan-worker-2", "fan-worker-3")
BLOCKS = ("fan-b", "fan-c")
# Three gates at once on 2 shared cores: each takes 15-30 s alone.
DEADLINE_S = "240"


@contextmanager
def pushed_sandbox(name: str, env: dict[str, str], cwd: Path) -> Iterator[None]:
    """`smoke sandbox --push-block NAME` until the block is saved; stopped by its pid."""
    out = cwd / f"sandbox-{name}.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [SMOKE, "sandbox", "--port", "0", "--push-block", name],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while f"block smoke-environment/{name} points at it" not in out.read_text():
            assert proc.poll() is None, f"smoke sandbox exited {proc.returncode}: {out.read_text()}"
            assert time.monotonic() < deadline, f"no block {name} in 120 s: {out.read_text()}"
            time.sleep(0.3)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def three_workers(
    prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, str], list[Path]]]:
    """Two pushed sandboxes, `smoke deploy` (so the form offers them), three workers of limit 1."""
    env = prefect_server.env()
    cwd = tmp_path_factory.mktemp("fan-out")
    with ExitStack() as stack:
        for name in BLOCKS:
            stack.enter_context(pushed_sandbox(name, env, cwd))
        deployed = run_smoke(["deploy"], env=env, cwd=cwd)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert all(name in deployed.stdout for name in BLOCKS), deployed.stdout
        logs = []
        for name in WORKERS:
            home = cwd / name
            home.mkdir()
            stack.enter_context(process_worker(env, home, limit=1, name=name))
            logs.append(home / "worker.log")
        yield env, logs


def _worker_of_each_run(logs: list[Path], run_ids: list[str]) -> dict[str, list[str]]:
    """Which workers ran each flow run, read from the workers' own logs.

    Two workers may both try to submit a run; the server lets one, and the other logs
    "Aborted submission" for it.
    """
    found: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    for log in logs:
        text = log.read_text(errors="replace")
        for run_id in run_ids:
            tried = f"submitting flow run '{run_id}'" in text
            if tried and f"Aborted submission of flow run '{run_id}'" not in text:
                found[run_id].append(log.parent.name)
    return found


def _flow_run(env: dict[str, str], run_id: str) -> Any:
    async def read() -> Any:
        from prefect.client.orchestration import PrefectClient

        async with PrefectClient(env["PREFECT_API_URL"]) as client:
            return await client.read_flow_run(UUID(run_id))

    return asyncio.run(read())


def test_three_environments_pass_on_runs_spread_over_the_workers(
    three_workers: tuple[dict[str, str], list[Path]], tmp_path: Path
) -> None:
    env, logs = three_workers
    started = time.monotonic()
    proc = run_smoke(
        [
            *("gate", "--env", "sandbox", "--env", "fan-b", "--env", "fan-c"),
            *("--version", "1.0.0", "--deadline", DEADLINE_S),
            *("--json", str(tmp_path / "all.json"), "--junit", str(tmp_path / "all.xml")),
            *("--report-dir", str(tmp_path / "report")),
        ],
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    took = time.monotonic() - started
    out = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, out
    data = json.loads((tmp_path / "all.json").read_text())
    assert (data["verdict"], data["exit_code"]) == ("PASS", 0), out
    by_env = {e["environment"]: e for e in data["environments"]}
    assert list(by_env) == ["sandbox", "fan-b", "fan-c"]
    assert {name: e["verdict"] for name, e in by_env.items()} == dict.fromkeys(by_env, "PASS")
    # Progress from each worker's run, each line prefixed by its environment.
    for name in by_env:
        assert re.search(rf"^\[{name}\] +Triggered ", proc.stdout, re.M), out
        assert re.search(rf"^\[{name}\] +  passed   auth\.password_login", proc.stdout, re.M), out
    # The table: a row per environment with its verdict and its flow run's URL.
    for name, e in by_env.items():
        row = rf"^{re.escape(name)} +PASS +[\d.]+ s +{re.escape(e['flow_run_url'])}$"
        assert re.search(row, proc.stdout, re.M), out
    assert "3 environments (3 PASS); exit 0" in proc.stdout
    for name in by_env:
        assert (tmp_path / "report" / name / "report.md").is_file()
        assert json.loads((tmp_path / "report" / name / "result.json").read_text())[
            "environment"
        ] == (name)
    assert (tmp_path / "all.xml").read_text().count("<testsuite ") >= 3 * 5
    run_ids = [e["flow_run_id"] for e in by_env.values()]
    for name, run_id in zip(by_env, run_ids, strict=True):
        tags = set(_flow_run(env, run_id).tags)
        assert {f"env:{name}", "mode:gate", "version:1.0.0"} <= tags, tags
    ran_on = _worker_of_each_run(logs, run_ids)
    assert all(len(names) == 1 for names in ran_on.values()), ran_on
    workers = {names[0] for names in ran_on.values()}
    assert len(workers) > 1, f"every run on one worker: {ran_on}"
    print(f"3 environments in {took:.1f} s on workers {sorted(workers)}")


def test_a_faulty_environment_fails_and_the_others_pass(
    three_workers: tuple[dict[str, str], list[Path]], tmp_path: Path
) -> None:
    env, _ = three_workers
    proc = run_smoke(
        [
            *("gate", "--env", "sandbox", "--fault", "dashboard.feed_500", "--env", "fan-b"),
            *("--journeys", "dashboard", "--deadline", DEADLINE_S),
            *("--json", str(tmp_path / "all.json")),
        ],
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    out = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 1, out
    data = json.loads((tmp_path / "all.json").read_text())
    assert (data["verdict"], data["exit_code"]) == ("FAIL", 1)
    assert {e["environment"]: e["verdict"] for e in data["environments"]} == {
        "sandbox": "FAIL",
        "fan-b": "PASS",
    }
    assert re.search(r"^\[sandbox\] +  FAILED   dashboard\.feed", proc.stdout, re.M), out
    assert "sandbox: dashboard.feed failed" in proc.stdout, out
    assert "2 environments (1 PASS, 1 FAIL); exit 1" in proc.stdout


@pytest.mark.parametrize(
    "envs",
    [["--env", "fan-b", "--env", "fan-c"], ["--env", "fan-b", "--via-deployment"]],
    ids=["two-environments", "one-via-deployment"],
)
def test_ctrl_c_cancels_every_triggered_run(
    three_workers: tuple[dict[str, str], list[Path]], tmp_path: Path, envs: list[str]
) -> None:
    env, _ = three_workers
    count = envs.count("--env")
    out = tmp_path / "out.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [SMOKE, "gate", *envs, "--json", str(tmp_path / "r.json")],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while len(re.findall(r"^(\[fan-[bc]\] +)?  run is Running", out.read_text(), re.M)) < count:
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = out.read_text()
    assert proc.returncode == 130, text
    assert took < 10, f"took {took:.1f} s to stop: {text}"
    assert f"cancelling {count} triggered run(s)" in text, text
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["exit_code"] == 130
    results = data["environments"] if count > 1 else [data]
    assert [e["error_kind"] for e in results] == ["cancelled"] * count
    run_ids = re.findall(r"/runs/flow-run/([0-9a-f-]{36})", text)
    assert len(set(run_ids)) == count, text
    # The workers stop the runs' processes; each run ends Cancelled.
    ended: dict[str, str | None] = {}
    waited = time.monotonic() + 90
    while time.monotonic() < waited:
        ended = {i: _flow_run(env, i).state_name for i in set(run_ids)}
        if all(name == "Cancelled" for name in ended.values()):
            break
        time.sleep(1)
    assert all(name == "Cancelled" for name in ended.values()), ended
