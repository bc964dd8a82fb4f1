"""In-process listeners for finished checks: how the CLI shows live progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from smoke.results import CheckResult

Listener = Callable[[CheckResult], None]
_listeners: list[Listener] = []


def publish(result: CheckResult) -> None:
    """Tell every listener about a finished check; a failing listener never fails a run."""
    for listener in list(_listeners):
        try:
            listener(result)
        except Exception:  # noqa: S112 - progress display is best effort
            continue


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener`` for every check that finishes while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
