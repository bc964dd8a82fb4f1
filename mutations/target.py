"""The sandbox of a repository copy, started as a target the gate reaches like a deployed one.

``smoke demo`` gives the sandbox it starts 5 s to become ready; on this shared machine at
nice 10 that was too little for 5 of the first 7 starts (6-10 s at load averages of
7-11 on 2 cores). Here the copy's sandbox is started directly, with the patience a busy
machine needs, and ``smoke gate --env NAME`` reaches it through SMOKE_* variables, the
way a pipeline reaches a real environment.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import httpx

from sandbox.children import free_port, log_tail, spawn_child, stop_child
from sandbox.credentials import SandboxCredentials

READY_TIMEOUT_S = 120.0
ENVIRONMENT = "mutated-sandbox"
# A version other than the sandbox's default, so a hard-coded version cannot pass.
RELEASE_VERSION = "2.7.1"


class TargetDidNotStart(RuntimeError):
    """The copy's sandbox exited or never answered its readiness probe."""


@dataclass
class Target:
    """A running sandbox of a repository copy."""

    process: Popen[bytes]
    ready: dict[str, Any]
    credentials: SandboxCredentials

    def smoke_env(self) -> dict[str, str]:
        """SMOKE_* variables that make ``--env mutated-sandbox`` this target.

        The same fields ``smoke.local_sandbox.sandbox_config`` sets for ``smoke demo``.
        """
        creds = self.credentials
        return {
            "SMOKE_BASE_URL": self.ready["base_url"],
            "SMOKE_API_URL": self.ready["base_url"],
            "SMOKE_TEST_EMAIL": creds.test_email,
            "SMOKE_TEST_PASSWORD": creds.test_password,
            "SMOKE_OTHER_EMAIL": creds.other_email,
            "SMOKE_OTHER_PASSWORD": creds.other_password,
            "SMOKE_E2E_TOKEN": creds.e2e_token,
            "SMOKE_STRIPE_SECRET_KEY": creds.stripe_secret_key,
            "SMOKE_STRIPE_WEBHOOK_SECRET": creds.stripe_webhook_secret,
            "SMOKE_STRIPE_API_BASE": self.ready["stripe_api_base"],
        }

    def stop(self) -> None:
        stop_child(self.process, timeout=20.0)


def start_target(copy: Path, env: dict[str, str], version: str, log_path: Path) -> Target:
    """Start ``python -m sandbox serve`` from ``copy`` and wait until it is ready."""
    credentials = SandboxCredentials()
    port = free_port()
    argv = [sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--version", version]
    process = spawn_child(argv, log_path=log_path, env=env | credentials.to_env(), cwd=copy)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TargetDidNotStart(f"it exited with {process.returncode}: {log_tail(log_path, 5)}")
        try:
            reply = httpx.get(f"http://127.0.0.1:{port}/_sandbox/ready", timeout=2.0)
            if reply.status_code == 200:
                return Target(process, reply.json(), credentials)
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    stop_child(process)
    raise TargetDidNotStart(f"not ready within {READY_TIMEOUT_S:g} s: {log_tail(log_path, 5)}")
