"""``smoke gate --via-deployment``: trigger the `release-gate` deployment, follow it, report.

The run happens on a worker; ``deployments.remote`` triggers and follows it. This
process writes the same JSON, JUnit and report files as an in-process run, with the
same exit codes. A run that crashes, is cancelled or outlives the deadline gives 3, never 0.

With several environments (``smoke gate --env a --env b``) it triggers one run per
environment at once, follows them together (each progress line starts with its
environment), and combines their results by ``smoke/fan_out.py``: one table, one exit
code, one ``--json`` document, a report folder per environment. A signal (Ctrl-C)
cancels every run it triggered, for one environment or many.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from cli import signals
from cli.prefect_target import PrefectTarget
from cli.run import Outputs, prepare, report, say
from smoke.config import SANDBOX
from smoke.errors import ConfigError, SmokeSystemError
from smoke.fan_out import (
    FanOutResult,
    progress_prefix,
    render_junit_all,
    render_table,
    report_folder,
)
from smoke.report import write_outputs
from smoke.results import GateResult
from smoke.scrub import scrub

# After a signal, how long cancelling the triggered runs may take (within the stop budget).
CANCEL_RUNS_S = 3.0


@dataclass
class GateRun:
    """One environment's gate to trigger: its parameters, report folder and progress prefix."""

    environment: str
    parameters: dict[str, Any]
    report_dir: Path
    prefix: str = ""
    flow_run_id: UUID | None = None
    flow_run_url: str | None = None
    started: float = 0.0

    def say(self, text: str) -> None:
        say(f"{self.prefix}{text}")

    def triggered(self, flow_run_id: UUID, url: str | None) -> None:
        self.flow_run_id, self.flow_run_url = flow_run_id, url

    def result(self, outcome: GateResult | BaseException, version: str | None) -> GateResult:
        """The run's result, or an ERROR that still links to the run and says how long it took."""
        if isinstance(outcome, GateResult):
            result = outcome
        else:
            result = GateResult.errored(self.environment, version, self.parameters["mode"], outcome)
            result.flow_run_id = str(self.flow_run_id) if self.flow_run_id else None
            result.flow_run_url = self.flow_run_url
        if not result.duration_s and self.started:
            result.duration_s = time.perf_counter() - self.started
        return result


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
    (result,) = _gate_results(
        [environment],
        lambda _: outputs.report_dir,
        version=version,
        journeys=journeys,
        mode=mode,
        fail_on_flaky=fail_on_flaky,
        deadline_s=deadline_s,
        prefect=prefect,
        sandbox_faults=sandbox_faults,
        checks=checks,
        skip=skip,
    )
    return report(result, outputs, prefect)


def run_gates_via_deployment(
    *,
    environments: list[str],
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
    """One gate run per environment at once, on whichever workers take them; one exit code."""
    started = time.perf_counter()
    say(
        f"Gates for {len(environments)} environments ({', '.join(environments)}), each a run of "
        "the release-gate deployment on a worker of the `smoke` pool"
    )
    results = _gate_results(
        environments,
        lambda env: report_folder(outputs.report_dir, env),
        version=version,
        journeys=journeys,
        mode=mode,
        fail_on_flaky=fail_on_flaky,
        deadline_s=deadline_s,
        prefect=prefect,
        sandbox_faults=sandbox_faults,
        checks=checks,
        skip=skip,
    )
    return report_fan_out(FanOutResult(results, time.perf_counter() - started), outputs)


def report_fan_out(fan_out: FanOutResult, outputs: Outputs) -> int:
    """Write a report folder per environment and the combined files; print the table."""
    write_fan_out(fan_out, outputs)
    say()
    print(render_table(fan_out), end="", flush=True)
    say(f"reports: {outputs.report_dir}/<environment>/report.md (report.html beside it)")
    return fan_out.exit_code


def report_fan_out_error(
    error: BaseException, outputs: Outputs, environments: list[str], version: str | None, mode: str
) -> None:
    """The files of a fan-out that stopped before its runs: every environment ERROR."""
    results = [GateResult.errored(env, version, mode, error) for env in environments]
    write_fan_out(FanOutResult(results), outputs)


def write_fan_out(fan_out: FanOutResult, outputs: Outputs) -> None:
    """``<report-dir>/<environment>/`` for each; ``--json`` and ``--junit`` for all of them."""
    for result in fan_out.results:
        write_outputs(
            result,
            json_path=None,
            junit_path=None,
            report_dir=report_folder(outputs.report_dir, result.environment),
        )
    if outputs.json_path is not None:
        _write(outputs.json_path, fan_out.json_text())
    if outputs.junit_path is not None:
        _write(outputs.junit_path, render_junit_all(fan_out))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _gate_results(
    environments: list[str],
    report_dir_of: Callable[[str], Path],
    *,
    version: str | None,
    journeys: list[str] | None,
    mode: str,
    fail_on_flaky: bool,
    deadline_s: int,
    prefect: PrefectTarget,
    sandbox_faults: list[str] | None,
    checks: list[str] | None,
    skip: list[str] | None,
) -> list[GateResult]:
    """Prepare every environment, trigger a run for each, follow them all; a result each."""
    if prefect.kind == "temporary":
        raise ConfigError(
            "--via-deployment triggers a deployment on a Prefect server, and none is configured: "
            "start one (`smoke server start`) or set PREFECT_API_URL."
        )
    runs = [
        GateRun(
            env,
            _parameters(env, version, journeys, mode, fail_on_flaky, deadline_s, checks, skip),
            report_dir_of(env),
            progress_prefix(env, environments) if len(environments) > 1 else "",
        )
        for env in environments
    ]
    with ExitStack() as stack:
        for run in runs:
            faults = sandbox_faults if run.environment == SANDBOX else None
            config = prepare(stack, run.environment, version, faults, run.report_dir, prefect)
            if run.environment == SANDBOX:
                _save_sandbox_block(stack, config)
        outcomes = _follow_all(runs, deadline_s)
    return [run.result(outcome, version) for run, outcome in zip(runs, outcomes, strict=True)]


def _parameters(
    environment: str,
    version: str | None,
    journeys: list[str] | None,
    mode: str,
    fail_on_flaky: bool,
    deadline_s: int,
    checks: list[str] | None,
    skip: list[str] | None,
) -> dict[str, Any]:
    """The release-gate run's parameters for one environment."""
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
    return parameters


def _save_sandbox_block(stack: ExitStack, config: Any) -> None:
    """The worker resolves `sandbox` like any environment: from its block, here the
    sandbox this command started (with its faults)."""
    from blocks import SmokeEnvironment

    SmokeEnvironment.from_config(config).save(SANDBOX, overwrite=True)
    # Gone with this sandbox: a later run of `sandbox` on a worker starts its own.
    stack.callback(_drop_sandbox_block)
    say(f"block smoke-environment/{SANDBOX} points at the sandbox")


def _follow_all(runs: list[GateRun], deadline_s: int) -> list[GateResult | BaseException]:
    """Trigger and follow every run at once; each one's result or why there is none.

    A first signal cancels the following and then every run triggered so far; a run
    that had already reached its result keeps it, the others read as cancelled.
    """
    from deployments.remote import trigger_and_follow

    guard = signals.current()
    outcomes: dict[str, GateResult | BaseException] = {}

    async def follow_one(run: GateRun) -> None:
        run.started = time.perf_counter()
        outcome: GateResult | BaseException
        try:
            outcome = await trigger_and_follow(run.parameters, deadline_s, run.say, run.triggered)
        except Exception as e:  # noqa: BLE001 - this environment's ERROR; the others go on
            outcome = SmokeSystemError(
                f"following the gate run failed: {type(e).__name__}: {scrub(str(e))}"
            )
        if isinstance(outcome, GateResult):
            # A pipeline uploads the report folder: it must hold the files, not the worker.
            outcome = await _fetch_evidence(outcome, run.report_dir, run.say)
        outcomes[run.environment] = outcome

    async def follow_all() -> None:
        await asyncio.gather(*(follow_one(run) for run in runs))

    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(follow_all())

        def cancel() -> None:
            loop.call_soon_threadsafe(task.cancel)

        guard.on_first_signal(cancel)
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            interrupted = guard.interrupted
            if interrupted is None:
                raise
            triggered = [run.flow_run_id for run in runs if run.flow_run_id is not None]
            say(f"{interrupted}: cancelling {len(triggered)} triggered run(s)")
            _cancel_triggered(loop, triggered, str(interrupted), guard)
            for run in runs:
                outcomes.setdefault(run.environment, interrupted)
        finally:
            guard.on_first_signal(None)
    finally:
        loop.close()
    return [outcomes[run.environment] for run in runs]


def _cancel_triggered(
    loop: asyncio.AbstractEventLoop,
    triggered: list[UUID],
    message: str,
    guard: signals.SignalGuard,
) -> None:
    """Cancel the runs within what is left of the stop budget; failing only leaves them running."""
    from deployments.remote import cancel_runs

    if not triggered:
        return
    within = guard.left(keep=1.5, most=CANCEL_RUNS_S)
    try:
        loop.run_until_complete(asyncio.wait_for(cancel_runs(list(triggered), message), within))
    except Exception as e:  # the server may be gone too; the results still say cancelled  # noqa: BLE001
        say(f"  could not cancel the triggered runs: {type(e).__name__}: {e}")


async def _fetch_evidence(
    result: GateResult, report_dir: Path, say: Callable[[str], None]
) -> GateResult:
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
