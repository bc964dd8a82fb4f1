"""The expected outcome of every sandbox fault: one table for the integration tests
(the gate in process) and the soak (`smoke gate` on the command line).
"""

from __future__ import annotations

from smoke.results import Status, Verdict

FAIL, PASS = Verdict.FAIL, Verdict.PASS

# fault: (journeys to run, verdict, checks that must fail, checks with a warning status)
FAULT_TABLE: dict[str, tuple[list[str], Verdict, set[str], dict[str, Status]]] = {
    "health.down": (["dashboard"], FAIL, {"preflight.health"}, {}),
    "version.stale": (["dashboard"], FAIL, {"preflight.version"}, {}),
    # The routes each journey reached as the test identity are replayed by its own
    # refusal checks: a broken guard fails every journey whose routes it opens.
    "auth.bypass": (
        ["auth", "dashboard"],
        FAIL,
        {"auth.anonymous_refused", "dashboard.anonymous_refused"},
        {},
    ),
    "auth.bad_token_accepted": (
        ["auth", "billing", "dashboard"],
        FAIL,
        {"auth.bad_token_refused", "billing.bad_token_refused", "dashboard.bad_token_refused"},
        {},
    ),
    "auth.forged_state_accepted": (["auth"], FAIL, {"auth.forged_state_rejected"}, {}),
    "auth.login_broken": (["auth"], FAIL, {"auth.password_login", "auth.browser_login"}, {}),
    "auth.tenant_leak": (["auth"], FAIL, {"auth.tenant_isolation"}, {}),
    "auth.passkey_broken": (["auth"], FAIL, {"auth.passkey_login"}, {}),
    "onboarding.chain_broken": (["onboarding"], FAIL, {"onboarding.step.workspace"}, {}),
    "onboarding.preview_drift": (["onboarding"], FAIL, {"onboarding.preview_matches"}, {}),
    "onboarding.email_missing": (["onboarding"], FAIL, {"onboarding.welcome_email"}, {}),
    "billing.webhook_unsigned_accepted": (
        ["billing"],
        FAIL,
        {"billing.unsigned_webhook_rejected"},
        {},
    ),
    "billing.webhook_dropped": (["billing"], FAIL, {"billing.subscription_active"}, {}),
    "billing.decline_accepted": (["billing"], FAIL, {"billing.declined_card"}, {}),
    "billing.cancel_broken": (["billing"], FAIL, {"billing.cancel_returns_unchanged"}, {}),
    "billing.live_mode": (["billing"], FAIL, {"preflight.stripe_test_mode"}, {}),
    "dashboard.feed_500": (["dashboard"], FAIL, {"dashboard.feed", "dashboard.ui"}, {}),
    "dashboard.alerts_contract_drift": (["dashboard"], FAIL, {"dashboard.alerts"}, {}),
    "dashboard.empty": (["dashboard"], FAIL, {"dashboard.feed", "dashboard.ui"}, {}),
    "dashboard.ui_js_error": (["dashboard"], FAIL, {"dashboard.ui"}, {}),
    "dashboard.ui_failed_request": (["dashboard"], FAIL, {"dashboard.ui"}, {}),
    "dashboard.slow": (["dashboard"], PASS, set(), {"dashboard.feed": Status.DEGRADED}),
    "e2e.token_ignored": (["dashboard"], FAIL, {"preflight.e2e_token_required"}, {}),
}
# Transient faults: the gate must still pass (tests of their own below).
TRANSIENT = ["transient.http_503", "transient.slow_start"]


# Faults of different journeys share one gate run: each breaks only its own journey, so
# a run per group proves the same as a run per fault in a third of the time, and checks
# one thing more: a fault never leaks a failure into another journey. Preflight faults
# stop every journey and run alone; login_broken leaves other journeys without a
# session and runs alone too. The auth guards' faults fail the refusal checks of every
# journey whose routes they open, so they share a run only with journeys they leave alone.
GROUPS: list[list[str]] = [
    ["auth.bypass", "onboarding.chain_broken", "billing.webhook_unsigned_accepted"],
    ["auth.bad_token_accepted", "onboarding.preview_drift"],
    [
        "auth.forged_state_accepted",
        "onboarding.email_missing",
        "billing.cancel_broken",
        "dashboard.empty",
    ],
    ["auth.tenant_leak", "billing.webhook_dropped", "dashboard.ui_js_error"],
    ["auth.passkey_broken", "billing.decline_accepted", "dashboard.feed_500"],
    ["dashboard.ui_failed_request"],
    ["dashboard.alerts_contract_drift"],
    ["auth.login_broken"],
    ["dashboard.slow"],
    ["health.down"],
    ["version.stale"],
    ["billing.live_mode"],
    ["e2e.token_ignored"],
]
