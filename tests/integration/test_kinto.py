"""A real app nobody here wrote, gated by configuration alone: Kinto.

docs/examples/kinto.yaml and kinto.env configure every journey for Kinto (HTTP Basic
accounts, buckets and records with per-account permissions, a per-backend heartbeat, a
version endpoint, no e2e API, no billing). Kinto runs as its own process on loopback
(tests/support/kinto_server.py). Healthy, the gate passes with at least 80 % of the
applicable checks on; broken three ways, it fails on the check that owns the break.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from blocks.resolve import EVIDENCE_ENV, forget_local_environment, register_local_environment
from smoke.config import SmokeConfig
from smoke.results import GateResult, Status, Verdict
from tests.support.kinto_server import (
    OTHER_BUCKET,
    TEST_BUCKET,
    TEST_COLLECTION,
    VERSION,
    RunningKinto,
    start_kinto,
)

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "examples" / "kinto.yaml"
ENV_EXAMPLE = ROOT / "docs" / "examples" / "kinto.env"
ENVIRONMENT = "kinto"


@pytest.fixture(scope="module")
def kinto(prefect: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningKinto]:
    previous_evidence = os.environ.get(EVIDENCE_ENV)
    os.environ[EVIDENCE_ENV] = str(tmp_path_factory.mktemp("kinto-evidence"))
    with start_kinto(tmp_path_factory.mktemp("kinto")) as running:
        register_local_environment(
            SmokeConfig(
                name=ENVIRONMENT,
                base_url=running.url,
                auth_method="basic",
                test_email=running.test.user,
                test_password=SecretStr(running.test.password),
                other_email=running.other.user,
                other_password=SecretStr(running.other.password),
                admin_email=running.admin.user,
                admin_password=SecretStr(running.admin.password),
                contract_file=str(CONTRACT),
                reserved_identities=json.loads(example_settings()["SMOKE_RESERVED_IDENTITIES"]),
            )
        )
        try:
            yield running
        finally:
            forget_local_environment(ENVIRONMENT)
            if previous_evidence is None:
                os.environ.pop(EVIDENCE_ENV, None)
            else:
                os.environ[EVIDENCE_ENV] = previous_evidence


def example_settings() -> dict[str, str]:
    """The SMOKE_* settings docs/examples/kinto.env gives."""
    lines = [ln.strip() for ln in ENV_EXAMPLE.read_text().splitlines()]
    return dict(ln.split("=", 1) for ln in lines if ln and not ln.startswith("#"))


def run_gate(**params: Any) -> GateResult:
    from flows.gate import release_gate

    async def go() -> Any:
        state = await release_gate(environment=ENVIRONMENT, return_state=True, **params)
        return await state.result(raise_on_failure=False)

    result = asyncio.run(go())
    assert isinstance(result, GateResult), result
    return result


def failing(result: GateResult) -> set[str]:
    return {c.key for c in result.problems()}


def test_the_kinto_env_example_names_only_real_settings() -> None:
    settings = example_settings()
    fields = {f"SMOKE_{name.upper()}" for name in SmokeConfig.model_fields}
    assert set(settings) <= fields, set(settings) - fields
    assert settings["SMOKE_AUTH_METHOD"] == "basic"
    assert (ROOT / settings["SMOKE_CONTRACT_FILE"]).resolve() == CONTRACT


def test_healthy_kinto_passes_with_most_applicable_checks_on(kinto: RunningKinto) -> None:
    started = time.perf_counter()
    result = run_gate(version=VERSION)
    took = time.perf_counter() - started
    assert result.verdict is Verdict.PASS, (result.reasons, [c.message for c in result.problems()])
    checks = result.all_checks()
    ran = [c for c in checks if c.status is not Status.SKIPPED]
    applicable = [c for c in checks if c.skipped_because != "not_applicable"]
    share = len(ran) / len(applicable)
    print(
        f"kinto: {len(ran)} of {len(applicable)} applicable checks ran ({share:.0%}), {took:.1f} s"
    )
    assert share >= 0.8, {c.key: (c.status, c.skipped_because, c.message) for c in checks}
    statuses = {c.key: c.status for c in checks}
    for key in (
        "preflight.health",
        "preflight.version",
        "auth.setup",
        "auth.me_identity",
        "auth.tenant_isolation",
        "auth.anonymous_refused",
        "auth.bad_token_refused",
        "auth.teardown",
        "onboarding.step.signup",
        "onboarding.preview_matches",
        "onboarding.anonymous_refused",
        "onboarding.teardown",
        "dashboard.records",
        "dashboard.anonymous_refused",
    ):
        # Degraded is a pass over its latency budget: a busy machine can cause it.
        assert statuses[key] in (Status.PASSED, Status.DEGRADED), (key, statuses)
    # HTTP Basic has no login to refuse (bad_token_refused sends a wrong password), and
    # Kinto has no browser login to sign out of.
    for key in ("auth.wrong_password_refused", "auth.sign_out_ends_session"):
        check = next(c for c in checks if c.key == key)
        assert check.skipped_because == "not_applicable", (key, check.message)
    # The records endpoint names the test identity's own bucket: no endpoint is
    # tenant_scoped, so the dashboard's tenant isolation does not apply (never a pass).
    isolation = next(c for c in checks if c.key == "dashboard.tenant_isolation")
    assert (isolation.status, isolation.skipped_because) == (Status.SKIPPED, "not_applicable")
    # The teardowns removed what this run created: no signup account, no run record.
    with kinto.client(kinto.admin) as admin:
        accounts = admin.get("/v1/accounts").json()["data"]
    assert sorted(a["id"] for a in accounts) == ["admin", "smoke-other", "smoke-test"]
    with kinto.client(kinto.test) as test:
        records = test.get(f"/v1/buckets/{TEST_BUCKET}/collections/{TEST_COLLECTION}/records")
    assert sorted(r["id"] for r in records.json()["data"]) == ["task-0", "task-1", "task-2"]


def test_a_second_run_signs_up_again_without_collision(kinto: RunningKinto) -> None:
    result = run_gate(journeys=["onboarding"])
    assert result.verdict is Verdict.PASS, result.reasons


def test_a_permission_opened_to_everyone_fails_tenant_isolation(kinto: RunningKinto) -> None:
    with kinto.client(kinto.other) as other:
        other.patch(
            f"/v1/buckets/{OTHER_BUCKET}", json={"permissions": {"read": ["system.Everyone"]}}
        ).raise_for_status()
        try:
            result = run_gate(version=VERSION, journeys=["auth"])
        finally:
            other.put(
                f"/v1/buckets/{OTHER_BUCKET}", json={"permissions": {"read": []}}
            ).raise_for_status()
    assert result.verdict is Verdict.FAIL
    # The test identity reads the other account's record; so does anyone at all, and a
    # wrong password falls back to anyone: all three are the same opened permission.
    assert "auth.tenant_isolation" in failing(result)
    assert failing(result) <= {
        "auth.tenant_isolation",
        "auth.anonymous_refused",
        "auth.bad_token_refused",
    }
    check = next(c for c in result.all_checks() if c.key == "auth.tenant_isolation")
    assert check.message.startswith("the test identity can read another tenant's resource")


def test_a_backend_down_fails_health_with_evidence(kinto: RunningKinto) -> None:
    with kinto.fault("storage_down"):
        result = run_gate(version=VERSION, journeys=["dashboard"])
    assert result.verdict is Verdict.FAIL
    assert failing(result) == {"preflight.health"}
    check = next(c for c in result.all_checks() if c.key == "preflight.health")
    # 503 is transient: retried, then given up, and the last answer kept as a file.
    paths = [Path(e.path) for e in check.evidence if e.path]
    assert paths, check
    assert '"storage":false' in paths[0].read_text()


def test_a_record_schema_change_fails_the_records_check(kinto: RunningKinto) -> None:
    path = f"/v1/buckets/{TEST_BUCKET}/collections/{TEST_COLLECTION}/records/task-1"
    with kinto.client(kinto.test) as test:
        test.patch(path, json={"data": {"done": "yes"}}).raise_for_status()
        try:
            result = run_gate(version=VERSION, journeys=["dashboard"])
        finally:
            test.patch(path, json={"data": {"done": True}}).raise_for_status()
    assert result.verdict is Verdict.FAIL
    assert failing(result) == {"dashboard.records"}
    check = next(c for c in result.all_checks() if c.key == "dashboard.records")
    # Kinto lists the most recently modified record first: the changed one.
    assert check.message.startswith(
        "records: $.data[0].done is not of type 'boolean' (got \"yes\")"
    ), check.message


def test_kinto_is_a_separate_process(kinto: RunningKinto) -> None:
    assert kinto.process.pid != os.getpid()
    assert httpx.get(f"{kinto.url}/v1/__heartbeat__").status_code == 200


def test_smoke_init_from_kintos_openapi_validates(
    kinto: RunningKinto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.main import main
    from cli.validate import validate_locally

    contract = tmp_path / "contract.yaml"
    # Kinto serves Swagger 2.0 with basePath /v1 and no security definitions.
    assert main(["init", "--openapi", f"{kinto.url}/v1/__api__", "--out", str(contract)]) == 0
    text = contract.read_text()
    assert "path: /v1/__heartbeat__" in text
    assert "path: /v1/__version__" in text
    assert "# TODO: no security scheme this suite can sign in with" in text
    assert "# TODO: a signup route is POST /v1/accounts" in text
    assert "path: /v1/buckets\n" in text  # a list endpoint: data is an array of objects
    monkeypatch.setenv("SMOKE_BASE_URL", kinto.url)
    assert validate_locally(ENVIRONMENT, str(contract)).suite is not None
