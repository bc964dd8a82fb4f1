"""What a running check notes, and where finished checks go besides their journey.

Process-wide listeners serve the CLI's live view. The collector, the start signal and
the running check are context variables, so they follow a gate's journeys (Prefect runs
subflows and tasks in copies of the caller's context) and two gates in one process
never mix their results.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

from smoke.report import progress_line
from smoke.results import CheckResult, JourneyResult, Status

Listener = Callable[[CheckResult], None]
_listeners: list[Listener] = []
_collector: ContextVar[list[CheckResult] | None] = ContextVar("smoke_collector", default=None)
_started: ContextVar[asyncio.Event | None] = ContextVar("smoke_journey_started", default=None)
# Set by the gate once it has started every journey (``all_started``).
_go: ContextVar[asyncio.Event | None] = ContextVar("smoke_journeys_go", default=None)
# Where a journey run hands its result, by name (``journeys_into``).
_journeys: ContextVar[dict[str, JourneyResult] | None] = ContextVar("smoke_journeys", default=None)
# Called with every check finished under a gate, to log it on the gate's own run.
_gate_log: ContextVar[Listener | None] = ContextVar("smoke_gate_log", default=None)
# The check running in this context, and the transient faults it recovered from.
_running: ContextVar[str | None] = ContextVar("smoke_running_check", default=None)
_recovered: ContextVar[list[str] | None] = ContextVar("smoke_recovered", default=None)
_attempt: ContextVar[int] = ContextVar("smoke_attempt", default=1)

# A failure is an ERROR line and a warning a WARNING line: filtering a run's logs by
# level finds them.
LEVELS = {
    Status.FAILED: logging.ERROR,
    Status.ERROR: logging.ERROR,
    Status.FLAKY: logging.WARNING,
    Status.DEGRADED: logging.WARNING,
}


def level_of(result: CheckResult) -> int:
    """The log level a finished check is reported at."""
    return LEVELS.get(result.status, logging.INFO)


def announce(result: CheckResult) -> None:
    """Log a finished check on its run, on the gate's run, and tell every listener."""
    from prefect import get_run_logger

    with suppress(Exception):  # outside a run (the plain-asyncio baseline) there is no log
        get_run_logger().log(level_of(result), progress_line(result).strip())
    publish(result)


@contextmanager
def running(check: str, attempt: int = 1) -> Iterator[list[str]]:
    """Mark ``check`` (its ``attempt``-th try) as running in this context.

    Yields the list of transient faults it survives.
    """
    recovered: list[str] = []
    tokens = (_running.set(check), _recovered.set(recovered), _attempt.set(attempt))
    try:
        yield recovered
    finally:
        _running.reset(tokens[0])
        _recovered.reset(tokens[1])
        _attempt.reset(tokens[2])


def running_check() -> str | None:
    """The name of the check running in this context, if any."""
    return _running.get()


def running_attempt() -> int:
    """Which try of the running check this is: 1, then 2 and up on retries."""
    return _attempt.get()


def note_recovered(what: str) -> None:
    """Record that the running check survived a transient fault (it will read flaky)."""
    seen = _recovered.get()
    if seen is not None and what not in seen:
        seen.append(what)


def publish(result: CheckResult) -> None:
    """Hand a finished check to the gate's collector and every listener."""
    collected = _collector.get()
    if collected is not None:
        collected.append(result)
    gate_log = _gate_log.get()
    if gate_log is not None:
        with suppress(Exception):
            gate_log(result)
    for listener in list(_listeners):
        try:
            listener(result)
        except Exception:  # a broken listener must not stop the others or the check  # noqa: BLE001
            continue


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener`` for every check that finishes while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


@contextmanager
def collecting(log: Listener | None = None) -> Iterator[list[CheckResult]]:
    """Collect every check finished in this context (survives a deadline's cancellation).

    ``log`` is called with each of them too: the gate logs them on its own run.
    """
    collected: list[CheckResult] = []
    tokens = (_collector.set(collected), _gate_log.set(log))
    try:
        yield collected
    finally:
        _collector.reset(tokens[0])
        _gate_log.reset(tokens[1])


@contextmanager
def journeys_into(finished: dict[str, JourneyResult]) -> Iterator[None]:
    """Journeys finishing inside the block hand their results to ``finished``, in memory.

    The gate reads a journey's result from here rather than from its final state, which
    may come back from the API without its data.
    """
    token = _journeys.set(finished)
    try:
        yield
    finally:
        _journeys.reset(token)


def journey_finished(result: JourneyResult) -> None:
    """Hand a finished journey's result to the gate it runs under, if any."""
    journeys = _journeys.get()
    if journeys is not None:
        journeys[result.name] = result


async def signal_started() -> None:
    """Tell whoever started this journey that it is running; wait until all are.

    Under a gate, no journey's checks begin before every journey's subflow run exists:
    creating a subflow run while other journeys' task runs and logs stream into a
    SQLite-backed Prefect server meets "database is locked", and Prefect's client then
    backs off for seconds (2, 4, 8, 16, 32 s), up to past the gate's deadline.
    """
    event = _started.get()
    if event is not None:
        event.set()
    go = _go.get()
    if go is not None:
        await go.wait()


def expect_start(event: asyncio.Event, go: asyncio.Event) -> None:
    """Make ``signal_started`` in the current context set ``event``, then wait for ``go``."""
    _started.set(event)
    _go.set(go)
