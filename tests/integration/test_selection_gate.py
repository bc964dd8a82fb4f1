"""A gate run with --check/--skip runs only the selected checks and says so for the rest."""

from __future__ import annotations

from typing import Any

from smoke.report import render_summary
from smoke.results import Status, Verdict


def test_a_selected_gate_runs_only_what_was_selected_and_lists_the_rest(run_gate: Any) -> None:
    result = run_gate(
        "sandbox",
        version="1.0.0",
        checks=["auth.tenant_isolation", "dashboard.*"],
        skip=["dashboard.ui"],
    )
    assert result.verdict is Verdict.PASS, result.reasons
    ran = {c.key for c in result.all_checks() if c.status is not Status.SKIPPED}
    # What tenant_isolation needs first (the login) and the preflight come with it; the
    # dashboard's refusal checks replay what its endpoints reached.
    assert ran == {
        "preflight.health",
        "preflight.version",
        "preflight.stripe_test_mode",
        "preflight.e2e_token_required",
        "auth.password_login",
        "auth.tenant_isolation",
        "dashboard.feed",
        "dashboard.alerts",
        "dashboard.history",
        "dashboard.tenant_isolation",
        "dashboard.anonymous_refused",
        "dashboard.bad_token_refused",
    }
    skipped = {c.key: c for c in result.all_checks() if c.status is Status.SKIPPED}
    assert {c.skipped_because for c in skipped.values()} == {"not_selected"}
    assert skipped["dashboard.ui"].message == "not selected (--skip)"
    assert skipped["auth.me_identity"].message == "not selected"
    # Journeys with nothing selected are not started, yet every check of theirs is listed.
    billing = next(j for j in result.journeys if j.name == "billing")
    assert {c.check for c in billing.checks} >= {"checkout_success", "declined_card"}
    assert "billing.checkout_success" in skipped
    summary = render_summary(result)
    assert "not selected: " in summary
    assert "billing.checkout_success" in summary
    assert f"{len(ran)} of {len(result.all_checks())} checks ran" in summary
