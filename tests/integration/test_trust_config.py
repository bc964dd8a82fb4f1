"""Secrets and writes go only where they belong, refused before any request is made.

Each case runs `smoke gate` against a logging server on loopback that plays the
target (and, where the contract points elsewhere, a second one that plays the foreign
origin). The command must exit 2 with a message naming the setting or key path, and
neither server may see a single connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.logging_server import LoggingServer, logging_server

SMOKE = str(Path(sys.executable).with_name("smoke"))
PASSWORD = "canary-pw-4b1d"


def smoke(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PREFECT_API"))}
    return subprocess.run(
        [SMOKE, *args], env=clean | env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def target() -> Iterator[LoggingServer]:
    with logging_server() as server:
        yield server


@pytest.fixture
def foreign() -> Iterator[LoggingServer]:
    with logging_server() as server:
        yield server


def gate(target: LoggingServer, **env: str) -> subprocess.CompletedProcess[str]:
    settings = {
        "SMOKE_BASE_URL": target.url,
        "SMOKE_TEST_EMAIL": "smoke@sandbox.test",
        "SMOKE_TEST_PASSWORD": PASSWORD,
        "SMOKE_E2E_TOKEN": "canary-e2e-4b1d",
    }
    return smoke("gate", "--env", "staging", **(settings | env))


def assert_refused_before_any_request(
    proc: subprocess.CompletedProcess[str], *servers: LoggingServer
) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for server in servers:
        assert server.connections == 0, server.everything()
        assert server.requests == []


def test_an_absolute_foreign_url_in_the_contract_exits_2_naming_its_key_path(
    target: LoggingServer, foreign: LoggingServer
) -> None:
    journeys = {"auth": {"me": {"path": f"{foreign.url}/api/me"}}}
    proc = gate(target, SMOKE_JOURNEYS=json.dumps(journeys))
    assert_refused_before_any_request(proc, target, foreign)
    assert f"auth.me.path = {foreign.url}/api/me" in proc.stderr
    assert "allowed_origins (SMOKE_ALLOWED_ORIGINS" in proc.stderr


def test_an_absolute_login_path_to_another_host_exits_2(
    target: LoggingServer, foreign: LoggingServer
) -> None:
    journeys = {"auth": {"login": {"request": {"path": f"{foreign.url}/idp/token"}}}}
    proc = gate(target, SMOKE_JOURNEYS=json.dumps(journeys))
    assert_refused_before_any_request(proc, target, foreign)
    assert "auth.login.request.path" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr


def test_a_base_url_with_credentials_exits_2_without_printing_the_password(
    target: LoggingServer,
) -> None:
    proc = gate(target, SMOKE_BASE_URL=f"http://deploy:{PASSWORD}@127.0.0.1:{target.port}")
    assert_refused_before_any_request(proc, target)
    assert "base_url of environment 'staging' carries a user name or password" in proc.stderr
    assert f"http://***@127.0.0.1:{target.port}" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr


def test_a_test_identity_that_is_not_reserved_exits_2_naming_the_setting(
    target: LoggingServer,
) -> None:
    proc = gate(target, SMOKE_TEST_EMAIL="ops@globex.test")
    assert_refused_before_any_request(proc, target)
    assert "test_email, SMOKE_TEST_EMAIL) is 'ops@globex.test'" in proc.stderr
    assert "reserved_identities (SMOKE_RESERVED_IDENTITIES" in proc.stderr
    assert "smoke+*@sandbox.test" in proc.stderr


def test_an_onboarding_identity_that_is_not_reserved_exits_2(target: LoggingServer) -> None:
    journeys = {"onboarding": {"inputs": {"email": "ops@globex.test", "full_name": "X"}}}
    proc = gate(target, SMOKE_JOURNEYS=json.dumps(journeys))
    assert_refused_before_any_request(proc, target)
    assert "onboarding.inputs.email is 'ops@globex.test'" in proc.stderr


def test_a_second_onboarding_identity_that_is_not_reserved_exits_2(target: LoggingServer) -> None:
    # The sandbox's negative cases offer the second identity's workspace: it signs up too.
    journeys = {"onboarding": {"second_identity": {"inputs": {"email": "ceo@globex.test"}}}}
    proc = gate(target, SMOKE_JOURNEYS=json.dumps(journeys))
    assert_refused_before_any_request(proc, target)
    assert "second_identity.inputs.email is 'ceo@globex.test'" in proc.stderr


def test_a_reserved_cleanup_refusal_address_exits_2(target: LoggingServer) -> None:
    journeys = {"onboarding": {"cleanup_refusal": {"email": "smoke+{{run_id}}@sandbox.test"}}}
    proc = gate(target, SMOKE_JOURNEYS=json.dumps(journeys))
    assert_refused_before_any_request(proc, target)
    assert "a refusal of it would prove nothing" in proc.stderr


def test_a_reserved_pattern_of_its_own_admits_another_products_identity(
    target: LoggingServer,
) -> None:
    # The positive twin: a run allowed to start does reach the target, so the zero
    # counts of the refusals above mean something.
    proc = gate(
        target,
        SMOKE_TEST_EMAIL="smoke+ci@tasklog.example.com",
        SMOKE_RESERVED_IDENTITIES='["smoke+*@tasklog.example.com"]',
        SMOKE_JOURNEYS=json.dumps(
            {"onboarding": {"inputs": {"email": "smoke+onboarding@tasklog.example.com"}}}
        ),
    )
    assert "reserved test identity" not in proc.stderr, proc.stderr
    assert target.connections > 0


def test_demo_refuses_the_other_tenants_user_as_test_identity() -> None:
    proc = smoke(
        "demo", SMOKE_TEST_EMAIL="ops@globex.test", SMOKE_TEST_PASSWORD="globex-sandbox-password"
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is not a reserved test identity" in proc.stderr
    assert "Starting the local sandbox" not in proc.stdout
