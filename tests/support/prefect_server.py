"""A real `prefect server start` for end-to-end tests, and the `smoke` command runner."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SMOKE = str(Path(sys.executable).with_name("smoke"))
PREFECT = str(Path(sys.executable).with_name("prefect"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrefectServer:
    """A running Prefect server and the environment that points clients at it."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.home = home
        self.log = home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment for a client of this server (no SMOKE_* leaks in)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PREFECT_"))}
        return (
            base
            | {
                "PREFECT_API_URL": self.api_url,
                "PREFECT_HOME": str(self.home / "client"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            }
            | extra
        )

    def start(self, timeout: float = 90.0) -> None:
        # The UI is on: a test drives it in Chromium as a platform engineer would.
        # (its UI asks PREFECT_UI_API_URL for the API; by default port 4200).
        env = self.env(
            PREFECT_HOME=str(self.home),
            PREFECT_UI_ENABLED="true",
            PREFECT_UI_API_URL=self.api_url,
        )
        env.pop("PREFECT_API_URL")
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.home,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(
            f"prefect server not healthy in {timeout} s: {self.log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)


def run_smoke(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the `smoke` console script as a user would."""
    return subprocess.run(
        [SMOKE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@contextmanager
def process_worker(
    env: dict[str, str],
    cwd: Path,
    prefect: str = PREFECT,
    *,
    limit: int = 4,
    name: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A `prefect worker start` on the `smoke` pool (log in ``cwd``), stopped by its pid.

    ``prefect``: the CLI of the environment the worker runs in (another checkout's);
    ``limit``: how many flow runs it runs at once; ``name`` names it (Prefect's default
    is a random one).
    """
    named = ["--name", name] if name else []
    with (cwd / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [prefect, "worker", "start", "--pool", "smoke", "--limit", str(limit), *named],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield worker
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
