"""The README's worked configuration for another app, proven against a fake of that app.

docs/examples/tasklog.yaml configures every journey for "Tasklog" (tests/integration/
tasklog_app.py): an OAuth2 password form post, a one-call signup, a paginated task list,
no billing, no browser pages. The release gate runs against it in-process, under the
session's Prefect harness: healthy it passes with exactly the expected checks; with a
fault it fails naming exactly the check that caught it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from blocks.resolve import EVIDENCE_ENV, forget_local_environment, register_local_environment
from smoke.config import SmokeConfig
from smoke.results import GateResult, Status, Verdict
from smoke.spec import load_spec
from tasks.http import E2E_HEADER as SUITE_E2E_HEADER
from tests.integration.tasklog_app import E2E_HEADER, RunningTasklog, serve_tasklog

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "examples" / "tasklog.yaml"
ENV_EXAMPLE = ROOT / "docs" / "examples" / "tasklog.env"
ENVIRONMENT = "tasklog"
VERSION = "2.4.0"
ONBOARDING_EMAIL = "smoke+onboarding@tasklog.example.com"
# As docs/examples/tasklog.env sets SMOKE_RESERVED_IDENTITIES.
RESERVED = ["smoke+*@tasklog.example.com"]

PASSED, SKIPPED = Status.PASSED, Status.SKIPPED
# Every check the healthy gate reports for Tasklog, and nothing else.
HEALTHY: dict[str, Status] = {
    "preflight.health": PASSED,
    "preflight.version": PASSED,
    "preflight.stripe_test_mode": SKIPPED,  # e2e_status: null
    "preflight.e2e_token_required": SKIPPED,
    "auth.password_login": PASSED,
    "auth.me_identity": PASSED,
    "auth.tenant_isolation": PASSED,
    "auth.browser_login": SKIPPED,  # browser_login: null
    "auth.sign_out_ends_session": SKIPPED,  # browser_login: null
    "auth.forged_state_rejected": SKIPPED,  # forged_state: null
    "auth.foreign_redirect_refused": SKIPPED,  # browser_login: null
    "auth.discovery_endpoints": SKIPPED,  # discovery: null
    "auth.passkey_login": SKIPPED,  # passkey: null
    # The login request with a wrong password: 400 invalid_grant, no token.
    "auth.wrong_password_refused": PASSED,
    "auth.anonymous_refused": PASSED,
    "auth.bad_token_refused": PASSED,
    "onboarding.cleanup_before": PASSED,
    "onboarding.step.signup": PASSED,
    "onboarding.preview_matches": PASSED,
    "onboarding.welcome_email": SKIPPED,  # welcome_email: null
    "onboarding.negative_cases_refused": SKIPPED,  # its one step has no negative cases
    "onboarding.cleanup_frees_identity": PASSED,  # the signup is the cleanup_probe
    "onboarding.cleanup_refuses_unreserved": PASSED,
    # Onboarding sends no request as a signed-in identity: nothing to replay.
    "onboarding.anonymous_refused": SKIPPED,
    "onboarding.bad_token_refused": SKIPPED,
    "billing.journey": SKIPPED,  # enabled: false
    "dashboard.tasks": PASSED,
    "dashboard.tenant_isolation": PASSED,  # the second org's tasks, none shared
    "dashboard.ui": SKIPPED,  # ui: null
    "dashboard.anonymous_refused": PASSED,
    "dashboard.bad_token_refused": PASSED,
}


def test_the_tasklog_contract_validates() -> None:
    spec = load_spec(str(CONTRACT))
    assert spec.auth.login.request.body_format == "form"
    assert spec.auth.login.request.path == "/oauth/token"
    assert spec.preflight.version_field == "build.version"
    assert spec.preflight.e2e_status is None
    assert [s.name for s in spec.onboarding.steps] == ["signup"]
    assert spec.onboarding.cleanup is not None
    assert spec.onboarding.cleanup.body is None
    assert spec.billing.enabled is False
    assert [(e.name, e.items_field) for e in spec.dashboard.endpoints] == [("tasks", "results")]
    assert spec.dashboard.ui is None
    assert spec.auth.browser_login is None
    assert spec.auth.passkey is None


def test_the_tasklog_env_example_names_only_real_settings() -> None:
    lines = [ln.strip() for ln in ENV_EXAMPLE.read_text().splitlines()]
    settings = dict(ln.split("=", 1) for ln in lines if ln and not ln.startswith("#"))
    fields = {f"SMOKE_{name.upper()}" for name in SmokeConfig.model_fields}
    assert set(settings) <= fields, set(settings) - fields
    assert {
        "SMOKE_BASE_URL",
        "SMOKE_TEST_EMAIL",
        "SMOKE_TEST_PASSWORD",
        "SMOKE_OTHER_EMAIL",
        "SMOKE_OTHER_PASSWORD",
        "SMOKE_E2E_TOKEN",
        "SMOKE_CONTRACT_FILE",
    } <= set(settings)
    assert (ROOT / settings["SMOKE_CONTRACT_FILE"]).resolve() == CONTRACT
    assert json.loads(settings["SMOKE_RESERVED_IDENTITIES"]) == RESERVED


@pytest.fixture(scope="module")
def tasklog(prefect: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTasklog]:
    """The fake Tasklog, registered as environment ``tasklog`` with the example contract."""
    previous_evidence = os.environ.get(EVIDENCE_ENV)
    os.environ[EVIDENCE_ENV] = str(tmp_path_factory.mktemp("tasklog-evidence"))
    with serve_tasklog(version=VERSION) as app:
        register_local_environment(
            SmokeConfig(
                name=ENVIRONMENT,
                base_url=app.url,
                test_email=app.test_user.email,
                test_password=SecretStr(app.test_user.password),
                other_email=app.other_user.email,
                other_password=SecretStr(app.other_user.password),
                e2e_token=SecretStr(app.e2e_token),
                contract_file=str(CONTRACT),
                reserved_identities=RESERVED,
            )
        )
        try:
            yield app
        finally:
            forget_local_environment(ENVIRONMENT)
            if previous_evidence is None:
                os.environ.pop(EVIDENCE_ENV, None)
            else:
                os.environ[EVIDENCE_ENV] = previous_evidence


def run_gate(**params: Any) -> GateResult:
    """The release gate against ``tasklog`` in this process, whatever the verdict."""
    from flows.gate import release_gate

    async def go() -> Any:
        state = await release_gate(environment=ENVIRONMENT, return_state=True, **params)
        return await state.result(raise_on_failure=False)

    result = asyncio.run(go())
    assert isinstance(result, GateResult), f"the gate ended without a result: {result!r}"
    return result


def statuses(result: GateResult) -> dict[str, Status]:
    return {c.key: c.status for c in result.all_checks()}


def failing(result: GateResult) -> set[str]:
    return {c.key for c in result.problems()}


def test_the_gate_passes_on_healthy_tasklog(tasklog: RunningTasklog) -> None:
    # A leftover of an earlier run: the clean-before must delete it, or the signup collides.
    leftover = tasklog.state.add_user(
        ONBOARDING_EMAIL, "old-password", "Stale Name", "Stale Co", org_id=-1
    )
    tasklog.state.requests.clear()
    result = run_gate(version=VERSION)

    assert result.verdict is Verdict.PASS, result.reasons
    assert result.exit_code == 0
    assert [j.name for j in result.journeys] == [
        "preflight",
        "auth",
        "onboarding",
        "billing",
        "dashboard",
    ]
    assert statuses(result) == HEALTHY
    billing = next(j for j in result.journeys if j.name == "billing")
    assert "disabled" in billing.checks[0].message
    tasks = next(c for c in result.all_checks() if c.key == "dashboard.tasks")
    assert "3 items" in tasks.actual, tasks.actual

    # What Tasklog saw: the configured calls, and the e2e token only where configured.
    calls = tasklog.state.requests
    signed_up = [u for u in tasklog.state.users.values() if u.email == ONBOARDING_EMAIL]
    # The leftover is gone; the one there now is the cleanup proof's signup, with the
    # run's inputs (the chain's own account was deleted by that proof's cleanup).
    assert [(u.name, u.company) for u in signed_up] == [("Smoke Test User", "Smoke Testing Ltd")]
    assert signed_up[0].id != leftover.id
    e2e_calls = [(method, path) for method, path, _, with_e2e in calls if with_e2e]
    previews = {p for m, p in e2e_calls if p.startswith("/v1/users/")}
    assert len(previews) == 1, e2e_calls
    assert previews != {f"/v1/users/{signed_up[0].id}"}, "the preview read the chain's account"
    assert {p for _, p in e2e_calls} - previews == {"/v1/test-support/users"}
    cleanups = [q for m, p, q, _ in calls if p == "/v1/test-support/users"]
    reserved = "email=smoke%2Bonboarding%40tasklog.example.com"
    # Before the chain, in the proof after it, then the refusal of an unreserved address.
    assert cleanups[:2] == [reserved, reserved], cleanups
    assert len(cleanups) == 3, cleanups
    assert cleanups[2].startswith("email=smoke-unreserved-"), cleanups
    assert cleanups[2].endswith("%40example.invalid"), cleanups
    assert ("GET", "/v1/tasks", "page=1&page_size=50") in {(m, p, q) for m, p, q, _ in calls}
    # The fake checks the header the suite sends (the name is not configurable).
    assert E2E_HEADER == SUITE_E2E_HEADER


def test_tenant_leak_fails_the_gate_on_tenant_isolation(tasklog: RunningTasklog) -> None:
    # Preflight and the journey the fault is in (as the sandbox's fault table does): a
    # full gate costs ~3x the time and the healthy run already shows the rest is clean.
    with tasklog.fault("tenant_leak"):
        result = run_gate(version=VERSION, journeys=["auth"])
    assert result.verdict is Verdict.FAIL
    assert result.exit_code == 1
    assert failing(result) == {"auth.tenant_isolation"}
    check = next(c for c in result.all_checks() if c.key == "auth.tenant_isolation")
    assert check.expected == "status 404 for the test identity on another tenant's resource"
    assert check.actual.startswith("status 200"), check.actual
    assert check.message.startswith("the test identity can read another tenant's resource")


def test_tasks_contract_drift_fails_the_gate_on_the_tasks_check(tasklog: RunningTasklog) -> None:
    with tasklog.fault("tasks_contract_drift"):
        result = run_gate(version=VERSION, journeys=["dashboard"])
    assert result.verdict is Verdict.FAIL
    assert failing(result) == {"dashboard.tasks"}
    check = next(c for c in result.all_checks() if c.key == "dashboard.tasks")
    assert check.attempts == 1  # a contract violation is not retried
    assert "$.results[0].done" in check.actual, check.actual
    assert "boolean" in check.actual


def test_a_route_answering_anonymous_callers_fails_the_journey_that_reached_it(
    tasklog: RunningTasklog,
) -> None:
    # No route list names /v1/tasks: the dashboard reached it as the test identity, so
    # its refusal checks replay it anonymously.
    assert load_spec(str(CONTRACT)).auth.protected_routes == []
    with tasklog.fault("tasks_anonymous"):
        result = run_gate(version=VERSION, journeys=["dashboard"])
    assert result.verdict is Verdict.FAIL
    # A caller whose token Tasklog does not know is anonymous to it: refused neither.
    assert failing(result) == {"dashboard.anonymous_refused", "dashboard.bad_token_refused"}
    check = next(c for c in result.all_checks() if c.key == "dashboard.anonymous_refused")
    assert "GET /v1/tasks -> 200" in check.message, check.message
    assert check.evidence, check
    assert check.evidence[0].path, check.evidence


def test_isolation_cannot_pass_when_the_owner_cannot_read_its_own_resource(
    tasklog: RunningTasklog,
) -> None:
    # Every org answers 404: a refusal to the test identity proves nothing. The check
    # must not pass; it errors, naming the precondition.
    with tasklog.fault("orgs_gone"):
        result = run_gate(version=VERSION, journeys=["auth"])
    check = next(c for c in result.all_checks() if c.key == "auth.tenant_isolation")
    assert check.status in (Status.ERROR, Status.FAILED), check
    assert result.verdict is not Verdict.PASS
    text = check.message
    assert "other identity cannot read its own resource" in text or "own tenant" in text, text


def _free_the_onboarding_identity(tasklog: RunningTasklog) -> None:
    for user in [u for u in tasklog.state.users.values() if u.email == ONBOARDING_EMAIL]:
        tasklog.state.remove_user(user)


def test_a_cleanup_that_deletes_nobody_fails_cleanup_frees_identity(
    tasklog: RunningTasklog,
) -> None:
    # Free before the run: the cleanup before it answers 204 but would leave a leftover.
    _free_the_onboarding_identity(tasklog)
    with tasklog.fault("cleanup_keeps_users"):
        result = run_gate(version=VERSION, journeys=["onboarding"])
    assert result.verdict is Verdict.FAIL
    assert failing(result) == {"onboarding.cleanup_frees_identity"}
    check = next(c for c in result.all_checks() if c.key == "onboarding.cleanup_frees_identity")
    assert check.message.startswith("after the cleanup, step signup of the reserved identity")
    assert check.actual.startswith("status 409"), check.actual
    # Its refusal twin is not judged on a cleanup that was not shown to work.
    refusal = next(
        c for c in result.all_checks() if c.key == "onboarding.cleanup_refuses_unreserved"
    )
    assert (refusal.status, refusal.skipped_because) == (SKIPPED, "prerequisite"), refusal


def test_a_cleanup_that_accepts_any_address_fails_cleanup_refuses_unreserved(
    tasklog: RunningTasklog,
) -> None:
    with tasklog.fault("cleanup_any_email"):
        result = run_gate(version=VERSION, journeys=["onboarding"])
    assert result.verdict is Verdict.FAIL
    # The reserved identity is still cleaned as before: only the refusal fails.
    assert failing(result) == {"onboarding.cleanup_refuses_unreserved"}
    check = next(c for c in result.all_checks() if c.key == "onboarding.cleanup_refuses_unreserved")
    assert check.message.startswith("the cleanup accepted an address outside the reserved")
    assert check.actual.startswith("status 404"), check.actual
    # The address offered was made up for this run: nobody's account was touched.
    assert all(u.email.startswith("smoke+") for u in tasklog.state.users.values())
