"""The Prefect layer of a check: a body run as a retried task whose state tells the truth.

A body (``smoke.outcomes``) returns ``Passed`` or raises ``CheckFailed``,
``CheckSkipped`` or a transient error; anything else is a bug or bad configuration in
the smoke system and reads ``error``, never a pass. Each check is declared once, in
``smoke/catalog.py``; ``journey_checks(journey)`` gives a module the decorator that
turns its bodies into tasks. A failed or errored check ends its task run Failed, with
its CheckResult kept as the state's data so the journey still collects it; a transient
fault is retried by Prefect (``retry_condition_fn``) with exponential backoff.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

import httpx
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run, task_run
from prefect.states import Completed, Failed

from smoke import catalog
from smoke.catalog import CheckDef
from smoke.errors import ConfigError
from smoke.outcomes import CheckFailed, CheckSkipped, Passed, judge_give_up, judge_pass
from smoke.results import CheckResult, JourneyResult, Status, Verdict
from smoke.retry import RETRIES, TransientError, backoff_delays, is_transient
from smoke.scrub import scrub
from smoke.selection import Selection
from smoke.verdict import journey_verdict
from tasks import progress
from tasks.journey import JourneyContext

if TYPE_CHECKING:
    from prefect import Task
    from prefect.client.schemas.objects import State, TaskRun

P = ParamSpec("P")
CheckBody = Callable[Concatenate[Any, P], Awaitable[Passed]]

# Every check task and what the catalogue declares about it.
DECLARED: dict[int, CheckDef] = {}
# The run's --check/--skip selection; None runs every check. A context variable, so it
# follows the gate into its journey subflows and never leaks into another gate's run.
_selection: ContextVar[Selection | None] = ContextVar("smoke_selection", default=None)


@contextmanager
def selecting(selection: Selection | None) -> Iterator[None]:
    """Within the block, only the checks ``selection`` names run; the others are skipped."""
    token = _selection.set(selection)
    try:
        yield
    finally:
        _selection.reset(token)


def current_selection() -> Selection | None:
    """The selection of the run in this context (None: every check)."""
    return _selection.get()


def _not_selected(ctx: JourneyContext[Any], name: str) -> CheckResult | None:
    """The skipped result of a check this run's selection leaves out, else None."""
    selection = _selection.get()
    if selection is None or selection.selects(ctx.journey, name):
        return None
    return ctx.result(
        name,
        Status.SKIPPED,
        0,
        time.perf_counter(),
        message=selection.why_not(ctx.journey, name),
        skipped_because="not_selected",
    )


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's retry_condition_fn: retry only transient faults."""
    exc = state.data
    return isinstance(exc, BaseException) and is_transient(exc)


def journey_checks(journey: str) -> Callable[[str], Callable[[CheckBody[P]], Task[..., Any]]]:
    """The ``@check(name)`` decorator of one journey's module."""

    def check(name: str) -> Callable[[CheckBody[P]], Task[..., Any]]:
        declared = catalog.find(journey, name)  # KeyError: declare it in smoke/catalog.py
        return lambda body: _as_task(declared, body)

    return check


def every_journey_check(name: str) -> Callable[[CheckBody[P]], Task[..., Any]]:
    """``@check(name)`` for a check every journey runs (setup, refusals, teardown)."""
    declared = {c for c in catalog.CATALOG if c.name == name}
    journeys = {c.journey for c in declared}
    if journeys != set(catalog.JOURNEYS) or len({c.writes for c in declared}) != 1:
        raise KeyError(f"{name}: declare it for every journey in smoke/catalog.py, alike")
    first = min(declared, key=lambda c: c.journey)
    return lambda body: _as_task(first, body)


def _as_task(declared: CheckDef, body: CheckBody[P]) -> Task[..., Any]:
    """``body`` as a retried Prefect task named ``<journey>.<name>``.

    ``check_name=`` at call time renames one run (a check named after the contract).
    """

    async def run(
        ctx: JourneyContext[Any], *args: Any, check_name: str | None = None, **kwargs: Any
    ) -> State[CheckResult]:
        name = check_name or declared.name
        attempt = task_run.run_count or 1
        ctx.evidence.pop(name, None)
        started = time.perf_counter()
        with progress.running(name, attempt) as recovered:
            try:
                outcome = await body(ctx, *args, **kwargs)
            except CheckFailed as f:
                return as_state(
                    ctx,
                    ctx.result(
                        name,
                        Status.FAILED,
                        attempt,
                        started,
                        expected=f.expected,
                        actual=f.actual,
                        message=f.message,
                        evidence=f.evidence,
                    ),
                )
            except CheckSkipped as s:
                return as_state(
                    ctx,
                    ctx.result(
                        name,
                        Status.SKIPPED,
                        attempt,
                        started,
                        message=str(s),
                        skipped_because=s.kind,
                    ),
                )
            except Exception as e:  # every outcome of a check body is classified here  # noqa: BLE001
                if is_transient(e):
                    log_warning(f"{ctx.journey}.{name} attempt {attempt}: {describe_error(e)}")
                    raise TransientError(
                        describe_error(e), unreachable=isinstance(e, httpx.ConnectError)
                    ) from None
                return as_state(
                    ctx,
                    ctx.result(
                        name,
                        Status.ERROR,
                        attempt,
                        started,
                        message=f"the smoke system could not run this check: {describe_error(e)}",
                    ),
                )
        outcome.recovered.extend(r for r in recovered if r not in outcome.recovered)
        judged = judge_pass(outcome, attempt=attempt, budget_ms=ctx.options(name).budget_ms)
        return as_state(
            ctx,
            ctx.result(
                name,
                judged.status,
                attempt,
                started,
                expected=outcome.expected,
                actual=outcome.actual,
                message=judged.message,
                evidence=outcome.evidence,
            ),
        )

    # Prefect shows the body's name and docstring (its invariant) for the task.
    run.__name__ = run.__qualname__ = body.__name__
    run.__doc__ = body.__doc__
    run.__module__ = body.__module__

    def run_name() -> str:
        params = task_run.parameters
        return f"{params['ctx'].journey}.{params.get('check_name') or declared.name}"

    check_task = task(
        name=declared.name,
        task_run_name=run_name,
        retries=RETRIES,
        retry_delay_seconds=backoff_delays(),
        retry_condition_fn=retry_if_transient,
        cache_policy=NO_CACHE,
        persist_result=False,
    )(run)
    DECLARED[id(check_task)] = declared
    return check_task


def as_state(ctx: JourneyContext[Any], result: CheckResult) -> State[CheckResult]:
    """The task run's final state: Failed for a failed or errored check, else Completed.

    The result is also kept on ``ctx``: ``run_check`` reads it from there, not from a
    state that may come back from the API without its data.
    """
    ctx.finished[result.check] = result
    line = f"{result.key} {result.status.value}"
    detail = result.message or result.actual
    message = scrub(f"{line}: {detail}" if detail else line)[:500]
    if result.is_problem:
        return Failed(message=message, data=result)
    return Completed(message=message, data=result)


def log_warning(message: str) -> None:
    """A warning on the run's log; nothing outside a run (the baseline, unit tests)."""
    with suppress(Exception):
        get_run_logger().warning(message)


def describe_error(e: BaseException) -> str:
    """A short, scrubbed description of an exception for a result message."""
    if isinstance(e, httpx.TimeoutException):
        text = f"timed out ({type(e).__name__}) calling {_request_url(e)}"
    elif isinstance(e, httpx.ConnectError):
        text = f"cannot connect to {_request_url(e)}: {e}"
    elif isinstance(e, ConfigError | TransientError):
        text = str(e)
    else:
        text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    first_line = text.strip().splitlines()[0] if text.strip() else text
    return scrub(first_line[:500])


def _request_url(e: httpx.RequestError) -> str:
    try:
        return str(e.request.url.copy_with(query=None))
    except RuntimeError:
        return "the target"


async def run_check(
    ctx: JourneyContext[Any], check_task: Task[..., Any], *args: Any, **kwargs: Any
) -> CheckResult:
    """Run one check task and always come back with its result (recorded on ``ctx``).

    Disabled checks and writing checks in a read-only environment are skipped without
    a task run. When Prefect gives up retrying a transient fault, the check failed: the
    product kept answering 5xx or timing out.
    """
    declared = DECLARED[id(check_task)]
    name: str = kwargs.get("check_name") or declared.name
    started = time.perf_counter()
    unselected = _not_selected(ctx, name)
    if unselected is not None:
        result = unselected
    elif not ctx.options(name).enabled:
        result = ctx.result(
            name,
            Status.SKIPPED,
            0,
            started,
            message="disabled in this environment",
            skipped_because="configuration",
        )
    elif declared.writes and not ctx.config.writes_allowed:
        result = ctx.result(
            name,
            Status.SKIPPED,
            0,
            started,
            message="writes data; skipped in a production environment (set allow_writes to run it)",
            skipped_because="configuration",
        )
    else:
        ctx.finished.pop(name, None)
        outcome, message = await task_runner(check_task, ctx, *args, **kwargs)
        kept = ctx.finished.pop(name, None)
        result = kept or (
            outcome
            if isinstance(outcome, CheckResult)
            else _gave_up(ctx, name, outcome, message, started)
        )
    ctx.record(result)
    return result


async def run_as_prefect_task(
    check_task: Task[..., Any], *args: Any, **kwargs: Any
) -> tuple[object, str | None]:
    """Run the check as a Prefect task run: its CheckResult, or what it failed with."""
    state = await check_task(*args, return_state=True, **kwargs)
    return await state.result(raise_on_failure=False), state.message


# How run_check runs a check task. Always Prefect in the product; the benchmark's plain
# asyncio baseline swaps in a direct call to measure what orchestration costs.
task_runner: Callable[..., Awaitable[tuple[object, str | None]]] = run_as_prefect_task


def _gave_up(
    ctx: JourneyContext[Any], name: str, outcome: object, state_message: str | None, started: float
) -> CheckResult:
    if isinstance(outcome, BaseException):
        text = describe_error(outcome)
    else:
        text = scrub(state_message or "the task did not complete")
    unreachable = isinstance(outcome, TransientError) and outcome.unreachable
    return ctx.result(
        name,
        judge_give_up(unreachable=unreachable),
        RETRIES + 1,
        started,
        expected="an answer within the timeout, without 429/5xx",
        actual=text,
        message=f"gave up after {RETRIES + 1} attempts: {text}",
        evidence=ctx.evidence.pop(name, []),
    )


def skip_rest(ctx: JourneyContext[Any], names: list[str], why: str) -> None:
    """Record ``names`` as skipped because an earlier check they depend on failed.

    A check the run's selection leaves out reads "not selected" instead.
    """
    for name in names:
        ctx.record(
            _not_selected(ctx, name)
            or ctx.result(
                name,
                Status.SKIPPED,
                0,
                time.perf_counter(),
                message=why,
                skipped_because="prerequisite",
            )
        )


async def journey_outcome(ctx: JourneyContext[Any]) -> State[JourneyResult]:
    """The journey run's final state: Failed unless its checks would pass a gate.

    Run on its own (its deployment, from the UI) the journey also records its report
    and result like a gate does, so the run page says what happened.
    """
    result = JourneyResult(name=ctx.journey, checks=list(ctx.results), duration_ms=ctx.elapsed_ms())
    progress.journey_finished(result)
    judged = journey_verdict(result, ctx.config.name)
    if flow_run.get_id() is not None and flow_run.get_parent_flow_run_id() is None:
        from tasks.report import record_results

        judged.flow_run_id = str(flow_run.get_id() or "") or None
        try:
            await record_results(judged)
        except Exception as e:  # a lost artifact must not turn into a lost verdict  # noqa: BLE001
            log_warning(f"Could not record the journey's result artifacts: {scrub(str(e))}")
    summary = f"{ctx.journey} {judged.verdict.value}"
    if judged.verdict is Verdict.PASS:
        return Completed(message=summary, data=result)
    return Failed(message=scrub(f"{summary}: {judged.reasons[0]}")[:500], data=result)


__all__ = [
    "current_selection",
    "journey_checks",
    "journey_outcome",
    "run_check",
    "selecting",
    "skip_rest",
]
