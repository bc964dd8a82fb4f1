"""Prefect's server on PostgreSQL: `smoke server start --postgres` in a new Prefect home,
`smoke deploy --workdir` naming another copy of the project with an environment of its
own (as a worker machine has), a process worker run from that copy, a gate via
deployment that passes, then `smoke server stop` leaving no process behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from cli import postgres
from tests.support.prefect_server import process_worker, run_smoke

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOT_COPIED = (".venv", ".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache")


def _worker_machine_copy(env: dict[str, str]) -> Path:
    """The project as a worker machine holds it: another folder, its own locked
    environment (``uv sync --locked``, from uv's cache), nothing shared with this one."""
    app = Path(tempfile.mkdtemp(prefix="smoke-worker-")) / "app"
    shutil.copytree(ROOT, app, ignore=shutil.ignore_patterns(*NOT_COPIED))
    subprocess.run(
        ["python3", "-m", "uv", "sync", "--locked", "--quiet"],
        cwd=app,
        env=env,
        check=True,
        timeout=900,
    )
    return app


def _postgres_or_skip() -> None:
    try:
        postgres.bin_dir()
    except Exception as e:
        if os.environ.get("SMOKE_REQUIRE_POSTGRES"):  # CI installs it: never skip there
            raise
        pytest.skip(str(e))


def _logs(home: Path, *more: Path) -> str:
    """The tails of the server's, PostgreSQL's (and any other) logs, for a failure message:
    the test's folder may be gone before anyone reads them."""
    paths = [home / "smoke-server.log", postgres.cluster(home).log_path, *more]
    parts = []
    for path in paths:
        try:
            tail = "\n".join(path.read_text(errors="replace").splitlines()[-40:])
        except OSError as e:
            tail = f"({e.strerror})"
        parts.append(f"--- {path}:\n{tail}")
    return "\n" + "\n".join(parts)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_gate_via_deployment_passes_on_a_prefect_server_on_postgres(tmp_path: Path) -> None:
    _postgres_or_skip()
    # Not under tmp_path: as root the cluster runs as `postgres`, which must reach its data
    # dir, and pytest resets /tmp/pytest-of-<user> to 0700 whenever any session starts.
    home = Path(tempfile.mkdtemp(prefix="smoke-pg-home-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PREFECT_"))}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    pids: list[int] = []
    app = _worker_machine_copy(env)
    try:
        started = time.monotonic()
        start = run_smoke(["server", "start", "--port", "0", "--postgres"], env=env, cwd=tmp_path)
        # The figure a reader looks for (run with -s): initdb, PostgreSQL, migrations.
        print(f"[postgres] smoke server start --postgres: {time.monotonic() - started:.1f} s")
        assert start.returncode == 0, start.stdout + start.stderr + _logs(home)
        assert re.search(
            r"database: postgresql\+asyncpg://prefect:\*\*\*@127\.0\.0\.1:", start.stdout
        )
        state = json.loads((home / "smoke-server.json").read_text())
        running = postgres.cluster(home).running()
        assert running is not None
        pids = [state["pid"], running[0]]
        again = run_smoke(["server", "start", "--postgres"], env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr + _logs(home)
        assert f"(pid {state['pid']})" in again.stdout

        deploy = run_smoke(["deploy", "--workdir", str(app)], env=env, cwd=tmp_path)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr + _logs(home)
        assert f"workers run the flows from: {app}" in deploy.stdout
        worker_env = env | {"PREFECT_API_URL": f"http://127.0.0.1:{state['port']}/api"}
        with process_worker(worker_env, tmp_path, prefect=str(app / ".venv/bin/prefect")):
            gate = run_smoke(
                ["gate", "--env", "sandbox", "--via-deployment", "--json", "r.json"],
                env=env,
                cwd=tmp_path,
                timeout=600,
            )
        assert gate.returncode == 0, (
            gate.stdout[-4000:] + gate.stderr[-2000:] + _logs(home, tmp_path / "worker.log")
        )
        assert json.loads((tmp_path / "r.json").read_text())["verdict"] == "PASS"
        # The run's flows came from the copy: its pull step went there.
        inspect = subprocess.run(
            [str(app / ".venv/bin/prefect"), "deployment", "inspect", "release-gate/release-gate"],
            env=worker_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert f"'directory': '{app}'" in inspect.stdout, inspect.stdout + inspect.stderr
        worker_log = (tmp_path / "worker.log").read_text(errors="replace")
        assert "Executing deployment step: set_working_directory" in worker_log, worker_log[-3000:]
        assert "Deployment step 'set_working_directory' completed successfully" in worker_log
        run_id = re.search(r"/runs/flow-run/([0-9a-f-]{36})", gate.stdout)
        assert run_id, gate.stdout[-2000:]
        # The run is in PostgreSQL's flow_run table, and no SQLite database was made.
        password = postgres.cluster(home).password_file.read_text().strip()
        rows = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(running[1]),
                "-U",
                "prefect",
                "-d",
                "prefect",
                "-tAc",
                f"SELECT count(*) FROM flow_run WHERE id = '{run_id.group(1)}'",
            ],
            env=env | {"PGPASSWORD": password},
            capture_output=True,
            text=True,
            check=False,
        )
        assert rows.stdout.strip() == "1", rows.stdout + rows.stderr
        assert not (home / "prefect.db").exists()
    finally:
        stop = run_smoke(["server", "stop"], env=env, cwd=tmp_path)
        logs = _logs(home)
        if stop.returncode == 0:
            shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(app.parent, ignore_errors=True)
    assert stop.returncode == 0, stop.stdout + stop.stderr + logs
    assert "Stopped the local PostgreSQL" in stop.stdout
    assert pids
    assert not any(_running(pid) for pid in pids)
