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

from cli.prefect_target import PrefectTarget
from cli.run import Outputs, prepare, report, say
from smoke.config import SANDBOX
from smoke.errors import ConfigError
from smoke.results import GateResult


def run_gate_via_deployment(
    *,
    environment: str,
    version: str | None,
    journeys: list[str] | None,
    mode: str,
    fail_on_flaky: bool,
    deadline_s: int,
    outputs: Outputs,
    prefect: PrefectTarget,
    sandbox_faults: list[str] | None = None,
    checks: list[str] | None = None,
    skip: list[str] | None = None,
) -> int:
    """Trigger, follow, report; the exit code follows the verdict."""
    if prefect.kind == "temporary":
        raise ConfigError(
            "--via-deployment triggers a deployment on a Prefect server, and none is configured: "
            "start one (`smoke server start`) or set PREFECT_API_URL."
        )
    started = time.perf_counter()
    with ExitStack() as stack:
        config = prepare(stack, environment, version, sandbox_faults, outputs.report_dir, prefect)
        from blocks import SmokeEnvironment
        from deployments.remote import trigger_and_follow

        if environment == SANDBOX:
            # The worker resolves `sandbox` like any environment: from its block, here
            # the sandbox this command started (with its faults).
            SmokeEnvironment.from_config(config).save(SANDBOX, overwrite=True)
            # Gone with this sandbox: a later run of `sandbox` on a worker starts its own.
            stack.callback(_drop_sandbox_block)
            say(f"block smoke-environment/{SANDBOX} points at the sandbox")
        parameters: dict[str, Any] = {
            "environment": environment,
            "version": version or "",  # the form's text field: empty is unversioned
            "mode": mode,
            "fail_on_flaky": fail_on_flaky,
            "deadline_s": deadline_s,
        }
        if journeys:
            parameters["journeys"] = journeys
        # Only when given: a deployment made before selection existed still runs.
        if checks:
            parameters["checks"] = checks
        if skip:
            parameters["skip"] = skip
        outcome = asyncio.run(trigger_and_follow(parameters, deadline_s, say))
        if isinstance(outcome, GateResult):
            # A pipeline uploads the report folder: it must hold the files, not the worker.
            outcome = asyncio.run(_fetch_evidence(outcome, outputs.report_dir))
    result = (
        outcome
        if isinstance(outcome, GateResult)
        else GateResult.errored(environment, version, mode, outcome)
    )
    if not result.duration_s:
        result.duration_s = time.perf_counter() - started
    return report(result, outputs, prefect)


async def _fetch_evidence(result: GateResult, report_dir: Path) -> GateResult:
    """The run's stored evidence, copied into the report folder through the storage block."""
    from tasks.evidence import evidence_storage, fetch_evidence

    try:
        fetched = await fetch_evidence(result, await evidence_storage(), report_dir / "evidence")
    except Exception as e:  # noqa: BLE001 - the verdict and the report still stand without the files
        say(f"could not fetch the run's evidence: {type(e).__name__}: {e}")
    else:
        if fetched:
            say(f"fetched {len(fetched)} evidence file(s) into {report_dir / 'evidence'}")
    return result


def _drop_sandbox_block() -> None:
    """Delete the `sandbox` block as its sandbox stops; failing only leaves it stale."""
    from blocks import SmokeEnvironment

    try:
        SmokeEnvironment.delete(SANDBOX)
    except Exception as e:  # the report must still be written  # noqa: BLE001
        say(f"could not delete block smoke-environment/{SANDBOX}: {type(e).__name__}: {e}")
