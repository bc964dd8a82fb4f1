"""A FAIL in gate mode calls the environment's rollback webhook; PASS and monitor runs don't."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from blocks.resolve import forget_local_environment, register_local_environment
from sandbox import RunningSandbox
from smoke.local_sandbox import sandbox_config
from smoke.results import Verdict


class Hook:
    """A local webhook receiver that records JSON bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rollback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def rollback_env(sandbox_env: str, sandbox: RunningSandbox) -> Iterator[tuple[str, Hook]]:
    hook = Hook()
    config = sandbox_config(sandbox).model_copy(
        update={"name": "sandbox-rollback", "rollback_webhook_url": SecretStr(hook.url)}
    )
    register_local_environment(config)
    yield "sandbox-rollback", hook
    forget_local_environment("sandbox-rollback")
    hook.server.shutdown()


def test_fail_in_gate_mode_calls_the_rollback_with_the_failed_checks(
    rollback_env: tuple[str, Hook], run_gate: Any, fault: Any
) -> None:
    name, hook = rollback_env
    fault("dashboard.alerts_contract_drift")
    result = run_gate(name, version="1.0.0", journeys=["dashboard"])
    assert result.verdict is Verdict.FAIL
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["environment"] == name
    assert body["version"] == "1.0.0"
    assert body["verdict"] == "FAIL"
    assert [(c["journey"], c["check"]) for c in body["failed_checks"]] == [("dashboard", "alerts")]
    assert "$.items[0].severity" in body["failed_checks"][0]["actual"]


def test_pass_and_monitor_runs_do_not_roll_back(
    rollback_env: tuple[str, Hook], run_gate: Any, fault: Any
) -> None:
    name, hook = rollback_env
    assert run_gate(name, journeys=["dashboard"]).verdict is Verdict.PASS
    fault("dashboard.alerts_contract_drift")
    assert run_gate(name, journeys=["dashboard"], mode="monitor").verdict is Verdict.FAIL
    assert hook.bodies == []
