"""Where finished checks go besides their journey: live progress and the gate's collector.

Process-wide listeners serve the CLI's live view. The collector and the start signal
are context variables, so they follow a gate's journeys (Prefect runs subflows in copies
of the caller's context) and two gates in one process never mix their results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from smoke.results import CheckResult

Listener = Callable[[CheckResult], None]
_listeners: list[Listener] = []
_collector: ContextVar[list[CheckResult] | None] = ContextVar("smoke_collector", default=None)
_started: ContextVar[asyncio.Event | None] = ContextVar("smoke_journey_started", default=None)


def publish(result: CheckResult) -> None:
    """Hand a finished check to the gate's collector and every listener."""
    collected = _collector.get()
    if collected is not None:
        collected.append(result)
    for listener in list(_listeners):
        try:
            listener(result)
        except Exception:
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
def collecting() -> Iterator[list[CheckResult]]:
    """Collect every check finished in this context (survives a deadline's cancellation)."""
    collected: list[CheckResult] = []
    token = _collector.set(collected)
    try:
        yield collected
    finally:
        _collector.reset(token)


def signal_started() -> None:
    """Tell whoever started this journey that it is running."""
    event = _started.get()
    if event is not None:
        event.set()


def expect_start(event: asyncio.Event) -> None:
    """Make ``signal_started`` in the current context set ``event``."""
    _started.set(event)
