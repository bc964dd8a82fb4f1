"""Waiting for things to start (the sandbox, Prefect's server), with a progress line.

A start-up wait is bounded only to turn a hang into a clear error
(``SMOKE_START_TIMEOUT_S``, default 120 s), never to judge speed: a busy machine is
slow, not broken. Several things can start at once; one line says what is still
pending and for how long, rewritten in place on a terminal and repeated now and then
in a CI log.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

# In a log (not a terminal) a line after this long, then one every LOG_EVERY_S.
LOG_FIRST_S = 5.0
LOG_EVERY_S = 15.0
# How often the waiting line is refreshed; a test shortens it.
POLL_S = 1.0


class StartUps:
    """Things starting in background threads, and the progress line while they start."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._pending: dict[Future[Any], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def start(self, label: str, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` in a thread; ``label`` says what is awaited ("the sandbox")."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as e:  # handed to whoever waits for the result  # noqa: BLE001
                future.set_exception(e)

        with self._lock:
            self._pending[future] = (label, time.monotonic())
        # A daemon thread: an interrupted command must not wait for a start-up to end.
        threading.Thread(target=run, name=f"start {label}", daemon=True).start()
        return future

    def result(self, future: Future[T]) -> T:
        """Wait for ``future``, showing what is still starting; its result or its error."""
        tty = self._out.isatty()
        waited_from = time.monotonic()
        next_log = LOG_FIRST_S
        shown = False
        try:
            while not future.done():
                wait_futures([future], timeout=POLL_S)
                line = self._line()
                if not line or future.done():
                    continue
                if tty:
                    self._out.write(f"\r\033[K{line}")
                    self._out.flush()
                    shown = True
                elif time.monotonic() - waited_from >= next_log:
                    print(line, file=self._out, flush=True)
                    next_log += LOG_EVERY_S
        finally:
            if shown:
                self._out.write("\r\033[K")
                self._out.flush()
            with self._lock:
                self._pending.pop(future, None)
        return future.result()

    def _line(self) -> str:
        now = time.monotonic()
        with self._lock:
            for done in [f for f in self._pending if f.done()]:
                del self._pending[done]
            parts = [f"{label}: {now - since:.0f} s" for label, since in self._pending.values()]
        return f"  waiting for {', '.join(parts)}" if parts else ""


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout_s: float,
    failed: Callable[[], str | None] = lambda: None,
    interval_s: float = 0.25,
) -> float:
    """Poll ``ready`` until it is true; seconds waited. TimeoutError after ``timeout_s``.

    ``failed`` returns a reason when waiting is pointless (the process exited): then
    RuntimeError with that reason, at once.
    """
    started = time.monotonic()
    while not ready():
        reason = failed()
        if reason:
            raise RuntimeError(reason)
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(
                f"{what} did not start within {timeout_s:g} s. If this machine is only slow, "
                "allow longer with SMOKE_START_TIMEOUT_S (seconds)."
            )
        time.sleep(interval_s)
    return time.monotonic() - started
