"""A journey whose final state update lost its answer still reports its checks.

On a busy Prefect server a state update can time out after the server applied it;
Prefect's client sends it again and the server answers the repeat with the state it
already recorded, which carries no result (results are not persisted). The gate used
to read each journey's result from that state: it raised MissingResult, the gate left
its shared browser while other journeys still had pages open (their checks then failed
with ``TargetClosedError: Tracing.start``) and the run ended ERROR. This loses the
answer of one journey's Completed update on purpose, as a busy server does, in
production mode, and also records the suite's API requests to prove that production
mode writes nothing (the login is its one POST).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from smoke.results import Status, Verdict
from tests.support.requests_log import record_requests, to_target, writes_beyond_login


def lose_the_answer_of_completed_update(monkeypatch: pytest.MonkeyPatch, nth: int) -> list[str]:
    """The ``nth`` Completed flow-run update reaches the server; its answer is lost once."""
    real_send = httpx.AsyncClient.send
    seen: list[str] = []
    lost: list[str] = []

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        response = await real_send(self, request, **kwargs)
        url = str(request.url)
        if request.method == "POST" and "/flow_runs/" in url and url.endswith("/set_state"):
            state = json.loads(request.content or b"{}").get("state", {})
            if state.get("type") == "COMPLETED" and url not in seen:
                seen.append(url)
                if len(seen) == nth:
                    lost.append(url)
                    await response.aread()
                    raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    monkeypatch.setattr(httpx.AsyncClient, "send", send)
    return lost


def test_a_production_gate_loses_no_journey_to_a_lost_state_answer_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, run_gate: Any, sandbox_env: str, sandbox: Any
) -> None:
    # Completed updates come in this order: preflight, then onboarding and billing (in
    # production mode their writing checks are skipped at once), auth, the dashboard,
    # the gate. The second one's answer is lost.
    sent = record_requests(monkeypatch)
    lost = lose_the_answer_of_completed_update(monkeypatch, nth=2)
    monkeypatch.setenv("SMOKE_PRODUCTION", "true")
    result = run_gate(sandbox_env)
    assert lost, "no Completed update was intercepted"
    assert result.verdict is Verdict.PASS, result.reasons
    statuses = {c.key: c.status for c in result.all_checks()}
    # Each ran and passed; on a busy runner a browser check may need its retry (flaky).
    assert {statuses[k] for k in ("auth.browser_login", "dashboard.ui", "dashboard.feed")} <= {
        Status.PASSED,
        Status.FLAKY,
    }
    assert not [c for c in result.all_checks() if c.status is Status.ERROR]
    # Production mode: the suite's API requests to the target only read, and sign in.
    assert len(to_target(sent, sandbox.base_url)) > 20, sent
    assert writes_beyond_login(sent, sandbox.base_url) == []
