"""Ctrl-C and SIGTERM stop a run, cleanly, within seconds; a second one exits at once.

The first signal cancels the running flow (its runs then end Cancelled, its
environment's slot is released) or, before the flow started, unwinds the start-up; the
command then stops what it started, writes an ERROR result "cancelled by signal" and
exits 130 (SIGINT) or 143 (SIGTERM). A second signal stops every child the command
registered and exits at once with the same code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

from smoke.errors import Interrupted

HANDLED = (signal.SIGINT, signal.SIGTERM)
# From the first signal to the exit, every step of the stop (the flow unwinding, its runs
# marked Cancelled, the last logs sent) shares this budget; the rest of the 10 s promise
# is left for stopping the children and the process teardown, which it cannot see.
STOP_BUDGET_S = 7.5


class SignalGuard:
    """Signal handling for one run command (installed in the main thread)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._signalled_at: float | None = None
        self._cancel: Callable[[], None] | None = None
        self._last_resort: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def interrupted(self) -> Interrupted | None:
        return Interrupted(self.signum) if self.signum is not None else None

    def left(self, keep: float = 0.0, most: float = STOP_BUDGET_S) -> float:
        """Seconds a stop step may take: what is left of the budget less ``keep`` (for the
        steps after it), at most ``most``, at least a fraction of a second so it can try."""
        spent = 0.0 if self._signalled_at is None else time.monotonic() - self._signalled_at
        return max(0.25, min(most, STOP_BUDGET_S - spent - keep))

    def on_first_signal(self, cancel: Callable[[], None] | None) -> None:
        """What the first signal does now: ``cancel`` the flow, or (None) raise Interrupted."""
        with self._lock:
            self._cancel = cancel
            pending = self.signum is not None and cancel is not None
        if pending and cancel is not None:
            cancel()  # a signal arrived just before the flow could be cancelled

    def at_second_signal(self, stop: Callable[[], None]) -> None:
        """Run ``stop`` (kill a child) before exiting at once on a second signal."""
        self._last_resort.append(stop)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            for stop in self._last_resort:
                with contextlib.suppress(Exception):
                    stop()
            os._exit(128 + self.signum)
        self.signum = signum
        self._signalled_at = time.monotonic()
        with self._lock:
            cancel = self._cancel
        if cancel is None:
            raise Interrupted(signum)
        cancel()


_current: SignalGuard | None = None


def current() -> SignalGuard:
    """The guard of the running command (a fresh, uninstalled one outside ``guarded``)."""
    return _current or SignalGuard()


@contextlib.contextmanager
def guarded() -> Iterator[SignalGuard]:
    """Install a guard's handlers for SIGINT and SIGTERM for the block."""
    global _current
    guard = SignalGuard()
    previous = {sig: signal.signal(sig, guard._handle) for sig in HANDLED}
    _current = guard
    try:
        yield guard
    finally:
        _current = None
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def exit_now(code: int, guard: SignalGuard | None = None) -> None:
    """End a cancelled command at once, its last logs delivered as far as they go quickly.

    A normal exit would wait for what the cancelled flow left running (a slot request
    still retrying on Prefect's service thread, say) for half a minute or more.
    """
    import sys

    if "prefect" in sys.modules:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        guard = guard or current()
        for worker in (APILogWorker, EventsWorker):
            with contextlib.suppress(Exception):
                worker.drain_all(timeout=guard.left(most=2.0) / 2, at_exit=False)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
