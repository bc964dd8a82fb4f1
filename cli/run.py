"""Running the gate, one journey or the seed flow in this process, for the CLI.

Order: check the configuration (no Prefect: a bad setting exits 2 in well under a
second); start what the run needs at once (the sandbox, Prefect's server) behind one
progress line; read the environment (a block is loaded now) and check it whole; run,
bounded by the deadline. Whatever happens the result is written and the exit code
follows the verdict.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cli import signals
from cli.prefect_target import PrefectTarget
from cli.startup import StartUps
from cli.validate import validate_locally
from smoke import github
from smoke.config import SANDBOX, SmokeConfig
from smoke.errors import ConfigError, Interrupted, SmokeSystemError
from smoke.report import progress_line, render_summary, write_outputs
from smoke.results import CheckResult, GateResult, JourneyResult
from smoke.scrub import scrub
from smoke.spec import JOURNEYS, PREFLIGHT
from smoke.verdict import journey_verdict

DEFAULT_REPORT_DIR = Path("smoke-report")
# Beyond the gate's own deadline: the flow's own start and the final recording. Prefect's
# server is up before the clock starts, so this never has to cover its first start.
GRACE_S = 45.0
REACH_TIMEOUT_S = 10.0
# After a signal, within the stop budget (cli/signals.py): how long the cancelled flow
# may take to unwind (its slot is released on the way) and how long marking its runs
# Cancelled may take; each step leaves the later ones their share.
STOP_WAIT_S = 4.0
MARK_CANCELLED_S = 3.0


def say(text: str = "") -> None:
    """One line of progress for the person at the terminal."""
    print(scrub(text), flush=True)


@dataclass
class Outputs:
    """Where a run's result goes."""

    json_path: Path | None = None
    junit_path: Path | None = None
    report_dir: Path = DEFAULT_REPORT_DIR


def run_gate(
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
    """``smoke gate`` / ``smoke demo``: run the gate in this process and report."""
    with ExitStack() as stack:
        config = prepare(stack, environment, version, sandbox_faults, outputs.report_dir, prefect)
        from flows.gate import release_gate

        selected = journeys or list(JOURNEYS)
        say(
            f"Gate {environment} ({config.base_url}) version {version or '(not checked)'}, mode {mode}"
        )
        say(f"Journeys: {', '.join(selected)}; deadline {deadline_s} s; {prefect.describe()}")
        if checks or skip:
            say(describe_selection(checks, skip))
        started = time.perf_counter()
        finished: list[CheckResult] = []
        outcome = run_flow(
            lambda: release_gate(
                environment=environment,
                version=version or "",
                journeys=tuple(selected),
                mode=mode,
                fail_on_flaky=fail_on_flaky,
                deadline_s=deadline_s,
                checks=tuple(checks or ()),
                skip=tuple(skip or ()),
                return_state=True,
            ),
            deadline_s,
            finished,
        )
    if isinstance(outcome, GateResult):
        result = outcome
    else:
        result = GateResult.errored(environment, version, mode, outcome)
        result.journeys = JourneyResult.grouped(finished)
    if not result.duration_s:
        result.duration_s = time.perf_counter() - started
    return report(result, outputs, prefect)


def describe_selection(checks: list[str] | None, skip: list[str] | None) -> str:
    """The progress line that says a run is a selection."""
    parts = [f"only {', '.join(checks)} and what they need" if checks else "every check"]
    if skip:
        parts.append(f"without {', '.join(skip)}")
    return f"Checks: {' '.join(parts)}; the others are skipped (not selected)"


def run_single_journey(
    name: str,
    environment: str,
    *,
    outputs: Outputs,
    prefect: PrefectTarget,
    checks: list[str] | None = None,
    skip: list[str] | None = None,
) -> int:
    """``smoke journey NAME``: one journey, judged and reported like a gate."""
    with ExitStack() as stack:
        config = prepare(stack, environment, None, None, outputs.report_dir, prefect)
        from blocks.resolve import suite_spec
        from flows.gate import JOURNEY_FLOWS
        from smoke.selection import select
        from tasks.checks import selecting

        selection = select(
            suite_spec(config), checks or [], skip or [], [name], with_preflight=False
        )
        say(f"Journey {name} against {environment} ({config.base_url}); {prefect.describe()}")
        if selection is not None:
            say(describe_selection(checks, skip))

        async def selected_journey() -> Any:
            # The flow runs in this coroutine's context, so its checks see the selection.
            with selecting(selection):
                return await JOURNEY_FLOWS[name](environment, return_state=True)

        started = time.perf_counter()
        outcome = run_flow(selected_journey, 600)
    duration = time.perf_counter() - started
    if isinstance(outcome, JourneyResult):
        result = journey_verdict(outcome, environment, duration)
    else:
        result = GateResult.errored(environment, None, "journey", outcome)
        result.duration_s = duration
    return report(result, outputs, prefect)


def run_seed(environment: str, tier: str, prefect: PrefectTarget) -> int:
    """``smoke seed``: seed a tier through the e2e API."""
    with ExitStack() as stack:
        prepare(stack, environment, None, None, DEFAULT_REPORT_DIR, prefect)
        from flows.seed import seed

        say(f"Seeding tier {tier} into {environment}; {prefect.describe()}")
        outcome = run_flow(lambda: seed(environment, tier, return_state=True), 300)
    if isinstance(outcome, dict):
        say(f"Seeded: {outcome}")
        return 0
    if isinstance(outcome, Interrupted):
        say(f"Seeding stopped: {outcome}")
        return outcome.exit_code
    say(f"Seeding failed: {outcome}")
    return 3


def prepare(
    stack: ExitStack,
    environment: str,
    version: str | None,
    sandbox_faults: list[str] | None,
    report_dir: Path,
    prefect: PrefectTarget,
) -> SmokeConfig:
    """Check the configuration, start the sandbox and Prefect at once, resolve, probe."""
    # A temporary server stops last, once everything that reports to it is done.
    stack.callback(prefect.close)
    validate_locally(environment)
    startups = StartUps()
    sandbox = None
    if environment == SANDBOX:
        from smoke.local_sandbox import start_local_sandbox

        faults = sandbox_faults or []
        say("Starting the local sandbox" + (f" with faults: {', '.join(faults)}" if faults else ""))
        sandbox = startups.start("the sandbox", lambda: start_local_sandbox(faults, version))
    prefect_ready = startups.start(prefect.label, prefect.wait_ready)
    if sandbox is not None:
        sb = startups.result(sandbox)
        stack.callback(sb.stop)
        say(f"Sandbox ready at {sb.base_url} in {sb.ready_seconds:.1f} s")
    startups.result(prefect_ready)

    from blocks.resolve import evidence_folder, resolve_environment, suite_spec

    stack.enter_context(evidence_folder(report_dir / "evidence"))
    if sandbox is not None:
        from blocks.local_sandbox import register_sandbox

        stack.enter_context(register_sandbox(sb))
    config = asyncio.run(resolve_environment(environment))
    suite_spec(config)
    probe(config.base_url)
    return config


def probe(url: str) -> None:
    """Fail fast, with a message to act on, when nothing listens at the target."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=REACH_TIMEOUT_S):
            pass
    except OSError as e:
        raise ConfigError(
            f"Cannot reach the target at {url}: {e.strerror or e}. Check base_url (SMOKE_BASE_URL "
            "or the block) and that the environment is up."
        ) from e


def run_flow(
    call: Callable[[], Awaitable[Any]],
    deadline_s: float,
    finished: list[CheckResult] | None = None,
) -> Any:
    """Run a flow call (``return_state=True``) with live progress; its result or the error.

    The flow runs on an event loop in a thread of its own, so the main thread keeps its
    signal handlers (Prefect's engine would take SIGTERM over in the main thread). A
    first signal cancels the flow; its runs, tagged for this command, are then marked
    Cancelled and the outcome is the Interrupted exception. ``finished`` collects every
    check that finished, so a cancelled run still reports what it had found.
    """
    from prefect import tags

    from tasks import progress

    guard = signals.current()
    tag = f"smoke-command:{uuid.uuid4().hex[:12]}"
    outcome: dict[str, Any] = {}
    started = threading.Event()

    async def bounded() -> Any:
        with tags(tag):
            state = await asyncio.wait_for(call(), timeout=deadline_s + GRACE_S)
        return await state.result(raise_on_failure=False)

    def run_in_thread() -> None:
        with asyncio.Runner() as runner:
            loop = runner.get_loop()
            task = loop.create_task(bounded())
            outcome["cancel"] = lambda: loop.call_soon_threadsafe(task.cancel)
            started.set()
            try:
                outcome["result"] = loop.run_until_complete(task)
            except BaseException as e:  # handed to the main thread  # noqa: BLE001
                outcome["error"] = e

    def show(check: CheckResult) -> None:
        say(progress_line(check))
        if finished is not None:
            finished.append(check)

    with progress.listening(show):
        # A daemon: a flow that will not unwind must not keep the command alive.
        # In a copy of this context: the carried evidence folder goes with the flow.
        flow_thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(run_in_thread,),
            name="smoke-flow",
            daemon=True,
        )
        flow_thread.start()
        started.wait()
        guard.on_first_signal(outcome["cancel"])
        try:
            while flow_thread.is_alive():
                flow_thread.join(0.2)
                if guard.signum is not None:
                    flow_thread.join(guard.left(keep=3.0, most=STOP_WAIT_S))
                    break
        finally:
            guard.on_first_signal(None)
    if guard.interrupted is not None:
        mark_cancelled(tag, str(guard.interrupted), guard.left(keep=1.5, most=MARK_CANCELLED_S))
        return guard.interrupted
    error = outcome.get("error")
    if isinstance(error, TimeoutError):
        return SmokeSystemError(
            f"the run did not finish within its deadline of {deadline_s:g} s (+{GRACE_S:g} s grace)"
        )
    if error is not None:
        return SmokeSystemError(f"the smoke system failed: {type(error).__name__}: {error}")
    return outcome.get("result")


def mark_cancelled(tag: str, message: str, within_s: float = MARK_CANCELLED_S) -> None:
    """End this command's flow and task runs Cancelled (the engine saw them crash).

    The flow runs go first, each state at once (a loaded server answers slowly, and the
    whole step has only ``within_s``).
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterTags,
        TaskRunFilter,
        TaskRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    done = {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED}

    async def cancel_all() -> None:
        async with get_client() as client:
            flows = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]))
            )
            tasks = await client.read_task_runs(
                task_run_filter=TaskRunFilter(tags=TaskRunFilterTags(all_=[tag]))
            )
            await asyncio.gather(
                *(
                    client.set_flow_run_state(run.id, Cancelled(message=message), force=True)
                    for run in flows
                    if run.state is None or run.state.type not in done
                )
            )
            await asyncio.gather(
                *(
                    client.set_task_run_state(run.id, Cancelled(message=message), force=True)
                    for run in tasks
                    if run.state is None or run.state.type not in done
                )
            )

    async def bounded() -> None:
        async with asyncio.timeout(within_s):
            await cancel_all()

    try:
        asyncio.run(bounded())
    except Exception as e:  # the server may be gone too; the result still says cancelled  # noqa: BLE001
        say(f"  could not mark the runs Cancelled: {type(e).__name__}: {scrub(str(e))}")


def report(result: GateResult, outputs: Outputs, prefect: PrefectTarget | None = None) -> int:
    """Write every output, print the summary and return the exit code."""
    written = write_outputs(
        result,
        json_path=outputs.json_path,
        junit_path=outputs.junit_path,
        report_dir=outputs.report_dir,
    )
    github.publish(result, os.environ, report_dir=outputs.report_dir)  # only in GitHub Actions
    say()
    sys.stdout.write(render_summary(result))
    say(
        f"report: {outputs.report_dir / 'report.md'}, {outputs.report_dir / 'report.html'}"
        + (f" (+{len(written) - 4} files)" if len(written) > 4 else "")
    )
    if prefect is not None and prefect.kind == "local" and prefect.server is not None:
        ui = prefect.server.ui_url
        say(f"Prefect UI: {result.flow_run_url or ui} (this run; {ui}/runs lists every run)")
        say("The local Prefect server keeps running for the next run; stop it: smoke server stop")
    return result.exit_code


def report_error(
    error: BaseException, outputs: Outputs, environment: str, version: str | None, mode: str
) -> None:
    """Write an ERROR result for a run that stopped before its gate: never no JSON at all."""
    result = GateResult.errored(environment, version, mode, error)
    write_outputs(
        result,
        json_path=outputs.json_path,
        junit_path=outputs.junit_path,
        report_dir=outputs.report_dir,
    )
    github.publish(result, os.environ, report_dir=outputs.report_dir)  # only in GitHub Actions


__all__ = ["PREFLIGHT", "Outputs", "report_error", "run_gate", "run_seed", "run_single_journey"]
