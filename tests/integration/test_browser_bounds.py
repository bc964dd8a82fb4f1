"""A browser check that never finishes is cut off, retried and named; the gate goes on."""

from __future__ import annotations

from typing import Any

import pytest

from smoke.results import Status, Verdict
from tasks import browser


def test_a_stuck_browser_check_is_bounded_and_named(
    sandbox_env: str, run_gate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Far below the page's real time: every attempt of the UI check is cut off.
    monkeypatch.setattr(browser, "BROWSER_CHECK_TIMEOUT_S", 0.05)
    result = run_gate(sandbox_env, version="1.0.0", journeys=["dashboard"])
    assert result.verdict is not Verdict.PASS
    ui = next(c for c in result.all_checks() if c.key == "dashboard.ui")
    assert ui.status in (Status.FAILED, Status.ERROR), ui
    assert "did not finish within 0.05 s" in (ui.message or ""), ui.message
    assert ui.attempts > 1  # retried as a transient fault before it was reported
    # The API checks of the same journey are unaffected.
    api = [c for c in result.all_checks() if c.key in ("dashboard.feed", "dashboard.alerts")]
    assert api
    assert all(c.status is Status.PASSED for c in api)
