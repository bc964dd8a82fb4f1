"""The release gate: preflight, the journeys concurrently, one verdict, always recorded."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any, Literal
from uuid import UUID

from prefect import State, flow, get_run_logger
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, Failed
from prefect.utilities.urls import url_for
from pydantic import Field

from blocks.local_sandbox import run_sandbox
from blocks.resolve import carried, resolve_environment, suite_spec
from flows.auth import auth
from flows.billing import billing
from flows.dashboard import dashboard
from flows.onboarding import onboarding
from flows.preflight import preflight
from smoke.catalog import FRAME
from smoke.config import SANDBOX, SmokeConfig
from smoke.errors import ConfigError, SmokeError
from smoke.report import progress_line
from smoke.results import CheckResult, GateResult, JourneyResult, Status, Verdict
from smoke.scrub import scrub
from smoke.selection import checks_of, select
from smoke.spec import JOURNEYS, PREFLIGHT, SuiteSpec
from smoke.verdict import decide
from tasks import browser, progress
from tasks.checks import current_selection, selecting
from tasks.context import skipped_journey
from tasks.report import record_results
from tasks.rollback import request_rollback, wants_rollback
from tasks.serialize import MonitorSkipped, environment_slot
from tasks.slack import notify, notify_crash
from tasks.status import record_status, tag_this_run

JourneyName = Literal["auth", "onboarding", "billing", "dashboard"]
Mode = Literal["gate", "monitor"]

JOURNEY_FLOWS = {"auth": auth, "onboarding": onboarding, "billing": billing, "dashboard": dashboard}
# How long a journey may take to get going before the next one starts anyway.
START_WAIT_S = 5.0


def gate_run_name() -> str:
    """``gate staging 1.4.2`` / ``monitor staging``: environment and version in the name."""
    params = flow_run.parameters
    mode = params.get("mode") or "gate"
    version = params.get("version") or ("" if mode == "monitor" else "unversioned")
    return " ".join(p for p in (mode, params.get("environment", "?"), version) if p)


@flow(
    name="release-gate",
    flow_run_name=gate_run_name,
    persist_result=False,
    log_prints=False,
    on_crashed=[notify_crash],
)
async def release_gate(
    environment: str = SANDBOX,
    version: str = "",
    # Tuples, empty meaning all: the run form shows a plain list, not a list-or-None toggle.
    journeys: tuple[JourneyName, ...] = (),
    mode: Mode = "gate",
    fail_on_flaky: bool = False,
    deadline_s: Annotated[int, Field(ge=5, le=3600)] = 120,
    checks: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
) -> Any:
    """Preflight, then the selected journeys concurrently; FAIL/ERROR end the run Failed.

    Args:
        environment: The environment to test: a SmokeEnvironment block's name. `sandbox`
            starts a local sandbox for this run and stops it afterwards.
        version: The version being released: the target must report exactly this.
            Empty: the deployed version is not checked.
        journeys: The journeys to run (auth, onboarding, billing, dashboard); all of
            them when empty.
        mode: `gate` blocks a release on FAIL and waits for the environment's slot;
            `monitor` is a scheduled health run, skipped while another monitor run of
            the environment holds the slot.
        fail_on_flaky: Treat a check that passed only on a retry as a failure.
        deadline_s: The whole gate must finish within this many seconds (5 to 3600).
        checks: Run only these checks and what they need, e.g. auth.tenant_isolation or
            dashboard.* (`smoke list` names them); all when empty.
        skip: Leave out these checks (same patterns) and every check that needs them.
    """
    started = time.perf_counter()
    selected = list(dict.fromkeys(journeys or JOURNEYS))
    wanted = version or None  # the form's empty text is "unversioned"
    result = GateResult(verdict=Verdict.ERROR, environment=environment, version=wanted, mode=mode)
    config: SmokeConfig | None = None
    await tag_this_run(environment, mode, wanted)
    try:
        async with run_sandbox(environment, wanted):
            # Resolved and checked once for the whole run; the journeys are handed this.
            config = await resolve_environment(environment)
            suite = suite_spec(config)
            selection = select(suite, checks, skip, selected)
            with carried(environment, config, suite), selecting(selection):
                async with environment_slot(
                    environment, float(deadline_s), monitor=mode == "monitor"
                ):
                    results = await run_until_deadline(
                        environment, wanted, selected, suite, deadline_s
                    )
    except MonitorSkipped as e:
        get_run_logger().info("%s", e)
        return Cancelled(message=str(e))
    except TerminationSignal:
        # A cancellation from the UI or API: the worker sends SIGTERM. The slot and the
        # sandbox were released on the way out; record why the run ended, then let
        # Prefect's engine end the run Cancelled.
        await record_cancelled(result, started)
        raise
    except asyncio.CancelledError:
        # The same SIGTERM can surface as the loop cancelling the flow's task; the
        # `smoke` command's own cancellation (it writes its own result) has no intent.
        if cancelled_by_worker():
            await record_cancelled(result, started)
        raise
    except SmokeError as e:
        result.error_kind = "config" if isinstance(e, ConfigError) else "system"
        result.reasons = [scrub(str(e))]
    except ConcurrencySlotAcquisitionError as e:
        result.error_kind = "system"
        result.reasons = [scrub(f"could not take environment {environment!r}'s slot: {e}")]
    except TimeoutError as e:
        # Not the slot (that is SlotBusy): something inside the run timed out unhandled.
        result.error_kind = "system"
        result.reasons = [scrub(f"a step of the gate timed out outside its checks: {e!r}")]
    else:
        decision = decide([c for j in results for c in j.checks], fail_on_flaky=fail_on_flaky)
        result.verdict, result.reasons = decision.verdict, decision.reasons
        result.warnings, result.journeys = decision.warnings, results
        if decision.verdict is Verdict.ERROR:
            result.error_kind = "system"
    result.flow_run_id = str(flow_run.get_id() or "") or None
    result.flow_run_url = (
        url_for("flow-run", obj_id=result.flow_run_id) if result.flow_run_id else None
    )
    result.duration_s = time.perf_counter() - started
    return await finish(result, config)


def cancelled_by_worker() -> bool:
    """True when Prefect's worker or runner asked this run's process to cancel."""
    from prefect._internal.control_listener import get_intent

    return get_intent() == "cancel"


async def record_cancelled(result: GateResult, started: float) -> None:
    """Record an ERROR result "cancelled by signal SIGTERM"; never raises."""
    result.error_kind, result.signal = "cancelled", "SIGTERM"
    result.reasons = ["cancelled by signal SIGTERM"]
    result.flow_run_id = str(flow_run.get_id() or "") or None
    result.duration_s = time.perf_counter() - started
    try:
        # Shielded: the loop is cancelling every task of the run while this is written.
        await asyncio.shield(asyncio.gather(record_results(result), cancel_journey_runs()))
    except (Exception, asyncio.CancelledError) as e:  # noqa: BLE001 - the run ends Cancelled regardless
        get_run_logger().error("Could not record the cancelled result: %s", scrub(str(e)))


async def cancel_journey_runs() -> None:
    """End this run's journey subflow runs that are not final Cancelled, all at once.

    Each subflow's engine sets its own Cancelled too, but four of them at once against
    a SQLite-backed server meet "database is locked" and back off for seconds, and the
    worker kills the process 30 s after its SIGTERM: a journey run was left Running.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    run_id = flow_run.get_id()
    if run_id is None:
        return
    message = "cancelled with the gate run"
    async with get_client() as client:
        children = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(run_id)])
            )
        )
        await asyncio.gather(
            *(
                client.set_flow_run_state(child.id, Cancelled(message=message), force=True)
                for child in children
                if child.state is None or not child.state.is_final()
            )
        )


async def finish(result: GateResult, config: SmokeConfig | None = None) -> State[Any]:
    """Record the result (always), notify, roll back a failed release; end Completed on PASS."""
    logger = get_run_logger()
    try:
        result = await record_results(result)
    except Exception as e:  # a lost artifact must not turn into a lost verdict  # noqa: BLE001
        logger.error("Could not record the result artifacts: %s", scrub(str(e)))
    try:
        await record_status(result)
    except Exception as e:  # the status page shows the previous status; the verdict stands  # noqa: BLE001
        logger.error("Could not record the status artifacts: %s", scrub(str(e)))
    try:
        # Never raises and never changes the verdict; a failure to notify is logged.
        await notify(result, result.environment)
    except Exception as e:  # only when Prefect could not run the task at all  # noqa: BLE001
        logger.error("Could not notify Slack: %s", scrub(str(e)))
    if config is not None and wants_rollback(result, config):
        await request_rollback(result, config)
    summary = f"{result.verdict.value}: {result.environment} {result.version or ''}".strip()
    verdict_line = f"verdict {summary}" + (f": {result.reasons[0]}" if result.reasons else "")
    logger.log(
        logging.INFO if result.verdict is Verdict.PASS else logging.ERROR, scrub(verdict_line)
    )
    if result.verdict is Verdict.PASS:
        return Completed(message=summary, data=result)
    first = result.reasons[0] if result.reasons else "see the report"
    return Failed(message=f"{summary}: {scrub(first)}"[:500], data=result)


async def run_until_deadline(
    environment: str, version: str | None, selected: list[str], suite: SuiteSpec, deadline_s: float
) -> list[JourneyResult]:
    """Preflight and journeys; past the deadline, unfinished journeys become errors.

    Every check that finishes is logged on the gate's own run too, at its level.
    """
    logger = get_run_logger()

    def log_on_gate(check: CheckResult) -> None:
        logger.log(progress.level_of(check), progress_line(check).strip())

    with progress.collecting(log_on_gate) as collected:
        finished: dict[str, JourneyResult] = {}
        started: dict[str, asyncio.Event] = {}
        try:
            async with asyncio.timeout(deadline_s):
                finished.update(not_selected(suite, [PREFLIGHT, *selected]))
                if PREFLIGHT not in finished:
                    finished[PREFLIGHT] = await run_journey(PREFLIGHT, environment, version)
                blocked = [c for c in finished[PREFLIGHT].checks if c.is_problem and c.blocking]
                for name in selected:
                    if name in finished:
                        continue
                    if not suite.journey(name).enabled:
                        finished[name] = JourneyResult(
                            name=name, checks=skipped_journey(name, "disabled in this environment")
                        )
                    elif blocked:
                        why = f"not run: preflight failed ({', '.join(c.check for c in blocked)})"
                        finished[name] = JourneyResult(name=name, checks=skipped_journey(name, why))
                to_run = [n for n in selected if n not in finished]
                async with browser.shared_browser():
                    await run_journeys(environment, to_run, finished, started)
        except TimeoutError:
            pass
        ordered = [PREFLIGHT, *selected]
        return [
            finished.get(name) or timed_out(name, collected, deadline_s, _stage(name, started))
            for name in ordered
        ]


def not_selected(suite: SuiteSpec, journeys: list[str]) -> dict[str, JourneyResult]:
    """The journeys this run's selection leaves out whole: each check skipped, "not selected".

    They are not started at all, yet every check is listed, so a selected run's report
    never reads as if it had run more than it did.
    """
    selection = current_selection()
    if selection is None:
        return {}
    left_out: dict[str, JourneyResult] = {}
    for journey in journeys:
        if selection.touches(journey):
            continue
        part = suite.journey(journey)
        left_out[journey] = JourneyResult(
            name=journey,
            checks=[
                CheckResult(
                    journey=journey,
                    check=c.name,
                    status=Status.SKIPPED,
                    blocking=part.options(c.name).blocking,
                    message=selection.why_not(journey, c.name),
                    skipped_because="not_selected",
                )
                for c in checks_of(suite, [journey])
                # journey_frame records setup and teardown only when the contract has them.
                if c.declared.name not in FRAME or getattr(part, c.declared.name)
            ],
        )
    return left_out


Stage = Literal["queued", "starting", "running"]


def _stage(name: str, started: dict[str, asyncio.Event]) -> Stage:
    if name not in started:
        return "queued"
    return "running" if started[name].is_set() else "starting"


def timed_out(
    journey: str, collected: list[CheckResult], deadline_s: float, stage: Stage = "running"
) -> JourneyResult:
    """What a journey the deadline cut short did get done, plus an error saying so.

    A journey that never got going is told apart: ``starting`` means Prefect's API had
    not created its subflow run, which points at the Prefect server (its log says why),
    not at the product; ``queued``, that the gate had not got to it.
    """
    done = [c for c in collected if c.journey == journey]
    actual = {
        "queued": (
            f"not started after {deadline_s:g} s: the preflight, or the journeys started"
            " before it, took the time"
        ),
        "starting": (
            f"not started after {deadline_s:g} s: Prefect's API had not created its"
            " subflow run (a busy or locked Prefect database; see the Prefect server's log)"
        ),
        "running": f"still running after {deadline_s:g} s; {len(done)} check(s) had finished",
    }[stage]
    cut = CheckResult(
        journey=journey,
        check="deadline",
        status=Status.ERROR,
        expected=f"the journey finishes within the gate's deadline of {deadline_s:g} s",
        actual=actual,
        message=f"the gate's deadline of {deadline_s:g} s passed before this journey finished",
    )
    return JourneyResult(name=journey, checks=[*done, cut])


async def run_journey(name: str, environment: str, version: str | None = None) -> JourneyResult:
    """Run one journey subflow; a crash becomes an error result, never a lost journey.

    The journey's result is what it handed to the gate in memory
    (``progress.journey_finished``), not read back from its final state: that state can
    be the API's copy without data (a state update whose answer was lost is sent again,
    and the API answers the repeat with the state it recorded) and reading it would
    raise. The state still tells whether the journey crashed.
    """
    finished: dict[str, JourneyResult] = {}
    with progress.journeys_into(finished):
        try:
            if name == PREFLIGHT:
                state = await preflight(environment, version, return_state=True)
            else:
                state = await JOURNEY_FLOWS[name](environment, return_state=True)
            problem = None if name in finished else scrub(str(state.message or state.name))
        # Any error of a journey becomes its problem line, never a lost verdict.
        except Exception as e:  # noqa: BLE001
            problem = scrub(f"{type(e).__name__}: {e}")
    if name in finished:
        return finished[name]
    return JourneyResult(
        name=name,
        checks=[
            CheckResult(
                journey=name,
                check="journey",
                status=Status.ERROR,
                message=f"the journey crashed: {problem}",
                actual=problem or "",
            )
        ],
    )


async def run_journeys(
    environment: str,
    names: list[str],
    finished: dict[str, JourneyResult],
    started: dict[str, asyncio.Event],
) -> None:
    """The journeys concurrently: each started once the previous one is running, and
    none checking anything before all have started (``progress.signal_started``).

    Each result goes into ``finished`` as soon as its journey ends, so a deadline that
    cuts one journey short keeps the others' whole results; ``started`` tells which
    journeys got going at all. Starting subflows at the same instant makes them contend
    for the Prefect server's database (seconds on SQLite); one at a time, on a quiet
    server, costs ~0.15 s per journey.
    """
    go = asyncio.Event()
    runs: dict[str, asyncio.Task[None]] = {}

    async def run(name: str) -> None:
        progress.expect_start(started[name], go)
        finished[name] = await run_journey(name, environment)

    try:
        for name in names:
            started[name] = asyncio.Event()
            runs[name] = asyncio.create_task(run(name))
            waiter = asyncio.create_task(started[name].wait())
            await asyncio.wait(
                [runs[name], waiter], timeout=START_WAIT_S, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
        go.set()
        await asyncio.gather(*runs.values())
    except BaseException:
        # Never leave a journey running behind the gate's back: the shared browser
        # closes as soon as this returns, under any page still open.
        for task in runs.values():
            task.cancel()
        await asyncio.gather(*runs.values(), return_exceptions=True)
        raise
