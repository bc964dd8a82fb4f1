"""How a check becomes a retried Prefect task that always yields a CheckResult.

A check body is an async function that returns ``Passed`` or raises ``CheckFailed``
(the product is broken: not retried) or a transient error (retried by Prefect through
``retry_condition_fn`` with exponential backoff). Anything else is a bug or bad
configuration in the smoke system and becomes an ``error`` result, never a pass.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

import httpx
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from smoke.errors import ConfigError
from smoke.report import progress_line
from smoke.results import CheckResult, Evidence, JourneyResult, SkipKind, Status
from smoke.retry import RETRIES, TransientError, backoff_delays, is_transient
from smoke.scrub import scrub
from smoke.spec import CheckOptions
from tasks import progress

if TYPE_CHECKING:
    from prefect import Task
    from prefect.client.schemas.objects import State, TaskRun

    from tasks.context import JourneyContext

P = ParamSpec("P")


@dataclass
class Passed:
    """What a passing check saw."""

    expected: str = ""
    actual: str = ""
    message: str = ""
    elapsed_ms: int | None = None  # the product's latency, judged against the budget
    evidence: list[Evidence] = field(default_factory=list)
    # Transient faults the product itself recovered from (a page retrying a 503): the
    # check passed, but only after a retry, which is what flaky means.
    recovered: list[str] = field(default_factory=list)


class CheckFailed(Exception):
    """The product is broken: a wrong status, a contract violation, a failed assertion."""

    def __init__(
        self,
        message: str,
        *,
        expected: str = "",
        actual: str = "",
        evidence: list[Evidence] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual
        self.evidence = evidence or []


class CheckSkipped(Exception):
    """The check did not run: off by configuration, not applicable, or a prerequisite failed."""

    def __init__(self, message: str, *, kind: SkipKind = "not_applicable") -> None:
        super().__init__(message)
        self.kind: SkipKind = kind


# Transient faults a check's requests or pages recovered from in the current attempt.
_recovered: ContextVar[list[str] | None] = ContextVar("smoke_recovered", default=None)
# The name of the check running in this context, so helpers can file evidence under it.
_running: ContextVar[str | None] = ContextVar("smoke_running_check", default=None)


def keep_evidence(ctx: JourneyContext, evidence: Evidence) -> None:
    """File evidence under the running check: kept even when it gives up on transient faults."""
    name = _running.get()
    if name is not None:
        ctx.evidence.setdefault(name, []).append(evidence)


def note_recovered(what: str) -> None:
    """Record that the running check survived a transient fault (it will read flaky)."""
    seen = _recovered.get()
    if seen is not None and what not in seen:
        seen.append(what)


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's retry_condition_fn: retry only transient faults."""
    exc = state.data
    return isinstance(exc, BaseException) and is_transient(exc)


CheckBody = Callable[Concatenate["JourneyContext", P], Awaitable[Passed]]


def check(
    default_name: str, *, writes: bool = False
) -> Callable[[CheckBody[P]], Task[..., CheckResult]]:
    """Turn a check body into a retried Prefect task named ``<journey>.<name>``.

    ``check_name=`` at call time renames one run (a configured endpoint, say).
    """

    def decorate(body: CheckBody[P]) -> Task[..., CheckResult]:
        @functools.wraps(body)
        async def run(
            ctx: JourneyContext, *args: Any, check_name: str | None = None, **kwargs: Any
        ) -> CheckResult:
            name = check_name or default_name
            attempt = task_run.run_count or 1
            ctx.evidence.pop(name, None)
            opts = ctx.options(name)
            started = time.perf_counter()
            recovered: list[str] = []
            token = _recovered.set(recovered)
            running = _running.set(name)
            try:
                outcome = await body(ctx, *args, **kwargs)
            except CheckFailed as f:
                return ctx.result(
                    name,
                    Status.FAILED,
                    attempt,
                    started,
                    expected=f.expected,
                    actual=f.actual,
                    message=f.message,
                    evidence=f.evidence,
                )
            except CheckSkipped as s:
                return ctx.result(
                    name, Status.SKIPPED, attempt, started, message=str(s), skipped_because=s.kind
                )
            except Exception as e:
                if is_transient(e):
                    log_warning(f"{ctx.journey}.{name} attempt {attempt}: {describe_error(e)}")
                    raise TransientError(describe_error(e)) from None
                return ctx.result(
                    name,
                    Status.ERROR,
                    attempt,
                    started,
                    message=f"the smoke system could not run this check: {describe_error(e)}",
                )
            finally:
                _recovered.reset(token)
                _running.reset(running)
            outcome.recovered.extend(r for r in recovered if r not in outcome.recovered)
            notes = [outcome.message] if outcome.message else []
            status = Status.PASSED
            budget = opts.budget_ms
            if (
                budget is not None
                and outcome.elapsed_ms is not None
                and outcome.elapsed_ms > budget
            ):
                status = Status.DEGRADED
                notes.insert(0, f"answered in {outcome.elapsed_ms} ms, over its {budget} ms budget")
            if outcome.recovered:
                notes.insert(
                    0, f"recovered from transient faults: {'; '.join(outcome.recovered[:3])}"
                )
            # Flaky outranks degraded: it is the one fail_on_flaky can turn into a FAIL.
            if attempt > 1 or outcome.recovered:
                status = Status.FLAKY
            outcome.message = "; ".join(notes)
            return ctx.result(
                name,
                status,
                attempt,
                started,
                expected=outcome.expected,
                actual=outcome.actual,
                message=outcome.message,
                evidence=outcome.evidence,
            )

        # Prefect binds call arguments against the signature it finds through
        # __wrapped__; the wrapper's own signature (with check_name) is the real one.
        del run.__wrapped__

        def run_name() -> str:
            params = task_run.parameters
            return f"{params['ctx'].journey}.{params.get('check_name') or default_name}"

        run.__dict__["check_name"] = default_name
        run.__dict__["writes"] = writes
        return task(
            name=default_name,
            task_run_name=run_name,
            retries=RETRIES,
            retry_delay_seconds=backoff_delays(),
            retry_condition_fn=retry_if_transient,
            cache_policy=NO_CACHE,
            persist_result=False,
        )(run)  # type: ignore[arg-type]  # an async task: Prefect awaits the coroutine

    return decorate


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
    ctx: JourneyContext, check_task: Task[..., CheckResult], *args: Any, **kwargs: Any
) -> CheckResult:
    """Run one check task and always come back with its result (recorded on ``ctx``).

    Disabled checks and writing checks in a read-only environment are skipped without
    a task run. When Prefect gives up retrying a transient fault, the check failed: the
    product kept answering 5xx or timing out.
    """
    name: str = kwargs.get("check_name") or check_task.fn.__dict__["check_name"]
    opts: CheckOptions = ctx.options(name)
    started = time.perf_counter()
    if not opts.enabled:
        result = ctx.result(
            name,
            Status.SKIPPED,
            0,
            started,
            message="disabled in this environment",
            skipped_because="configuration",
        )
    elif check_task.fn.__dict__["writes"] and not ctx.config.writes_allowed:
        result = ctx.result(
            name,
            Status.SKIPPED,
            0,
            started,
            message="writes data; skipped in a production environment (set allow_writes to run it)",
            skipped_because="configuration",
        )
    else:
        outcome, message = await task_runner(check_task, ctx, *args, **kwargs)
        result = (
            outcome
            if isinstance(outcome, CheckResult)
            else _gave_up(ctx, name, outcome, message, started)
        )
    ctx.record(result)
    return result


async def run_as_prefect_task(
    check_task: Task[..., CheckResult], *args: Any, **kwargs: Any
) -> tuple[object, str | None]:
    """Run the check as a Prefect task run: its CheckResult, or what it failed with."""
    state = await check_task(*args, return_state=True, **kwargs)
    return await state.result(raise_on_failure=False), state.message


# How run_check runs a check task. Always Prefect in the product; the benchmark's plain
# asyncio baseline swaps in a direct call to measure what orchestration costs.
task_runner: Callable[..., Awaitable[tuple[object, str | None]]] = run_as_prefect_task


def _gave_up(
    ctx: JourneyContext, name: str, outcome: object, state_message: str | None, started: float
) -> CheckResult:
    if isinstance(outcome, BaseException):
        text = describe_error(outcome)
    else:
        text = scrub(state_message or "the task did not complete")
    unreachable = "cannot connect" in text
    return ctx.result(
        name,
        # A target we cannot connect to at all is most often a wrong URL: the smoke
        # system could not run the check, which must not read as a product failure.
        Status.ERROR if unreachable else Status.FAILED,
        RETRIES + 1,
        started,
        expected="an answer within the timeout, without 429/5xx",
        actual=text,
        message=f"gave up after {RETRIES + 1} attempts: {text}",
        evidence=ctx.evidence.pop(name, []),
    )


def skip_rest(ctx: JourneyContext, names: list[str], why: str) -> None:
    """Record ``names`` as skipped because an earlier check they depend on failed."""
    for name in names:
        ctx.record(
            ctx.result(
                name,
                Status.SKIPPED,
                0,
                time.perf_counter(),
                message=why,
                skipped_because="prerequisite",
            )
        )


def journey_result(ctx: JourneyContext) -> JourneyResult:
    """The journey's results, in the order they ran."""
    return JourneyResult(name=ctx.journey, checks=list(ctx.results), duration_ms=ctx.elapsed_ms())


def announce(result: CheckResult) -> None:
    """Log a finished check on the run and tell in-process listeners (the CLI's live view)."""
    with contextlib.suppress(Exception):
        get_run_logger().info(progress_line(result).strip())
    progress.publish(result)
