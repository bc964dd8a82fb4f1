"""After a signal every stop step shares one budget, so the command exits within 10 s."""

from __future__ import annotations

import signal
import time

import pytest

from cli.signals import STOP_BUDGET_S, SignalGuard
from smoke.errors import Interrupted


def test_before_a_signal_a_step_may_take_its_most() -> None:
    assert SignalGuard().left(keep=3.0, most=4.0) == 4.0


def test_each_step_leaves_the_later_ones_their_share(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = SignalGuard()
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    with pytest.raises(Interrupted):
        guard._handle(signal.SIGINT, None)  # no flow to cancel yet: start-up unwinds
    now[0] += STOP_BUDGET_S - 4.0  # the flow took this long to unwind
    assert guard.left(keep=1.5, most=3.0) == pytest.approx(2.5)
    now[0] += 10.0  # far past the budget: a step still gets a moment to try
    assert guard.left(most=2.0) == 0.25


def test_the_stop_budget_leaves_room_inside_ten_seconds() -> None:
    # The flow's unwinding, marking its runs and the last logs, then the children.
    assert STOP_BUDGET_S <= 8.0
