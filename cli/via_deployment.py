"""``smoke gate --via-deployment``: trigger the `release-gate` deployment, follow it, report.

The run happens on a worker; ``deployments.remote`` triggers and follows it. This
process writes the same JSON, JUnit and report files as an in-process run, with the
same exit codes. A run that crashes, is cancelled or outlives the deadline gives 3, never 0.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from blocks import SmokeEnvironment
from blocks.prefect_api import require_api
from cli.run import crashed, prepare, report, say
from deployments.remote import trigger_and_follow
from smoke.config import SANDBOX
from smoke.results import GateResult


def run_gate_via_deployment(
    *,
    environment: str,
    version: str | None,
    journeys: list[str] | None,
    mode: str,
    fail_on_flaky: bool,
    deadline_s: int,
    outputs: dict[str, Path | None],
    sandbox_faults: list[str] | None = None,
) -> int:
    """Trigger, follow, report; the exit code follows the verdict."""
    require_api()
    report_dir = outputs.get("report_dir") or Path("smoke-report")
    started = time.perf_counter()
    with ExitStack() as stack:
        config = prepare(stack, environment, version, sandbox_faults, report_dir)
        if environment == SANDBOX:
            # The worker resolves `sandbox` like any environment: from its block.
            SmokeEnvironment.from_config(config).save(SANDBOX, overwrite=True)
            say(f"block smoke-environment/{SANDBOX} points at the sandbox")
        parameters: dict[str, Any] = {
            "environment": environment,
            "version": version,
            "mode": mode,
            "fail_on_flaky": fail_on_flaky,
            "deadline_s": deadline_s,
        }
        if journeys:
            parameters["journeys"] = journeys
        outcome = asyncio.run(trigger_and_follow(parameters, deadline_s, say))
    result = (
        outcome if isinstance(outcome, GateResult) else crashed(environment, version, mode, outcome)
    )
    if not result.duration_s:
        result.duration_s = time.perf_counter() - started
    return report(result, outputs, report_dir)
