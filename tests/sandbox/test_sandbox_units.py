"""Pure units of the sandbox package: fault catalogue, credentials, helpers. No server."""

from __future__ import annotations

import re
import threading
from datetime import date
from pathlib import Path

import pytest

import sandbox
from sandbox import FAULTS, SandboxCredentials
from sandbox.db import Database
from sandbox.e2e import RateLimiter
from sandbox.faults import FaultSet
from sandbox.health import previous_version
from sandbox.security import is_reserved_identity
from sandbox.seed import seed_tier

README = Path(sandbox.__file__).with_name("README.md")


def readme_fault_table() -> list[str]:
    text = README.read_text()
    section = text.split("## Faults", 1)[1]
    return re.findall(r"^\| `([a-z0-9_.]+)` \|", section, flags=re.MULTILINE)


def test_public_api_is_small_sorted_and_exported() -> None:
    assert sandbox.__all__ == sorted(sandbox.__all__)
    assert {"FAULTS", "RunningSandbox", "SandboxCredentials", "start_sandbox"} <= set(
        sandbox.__all__
    )
    for name in sandbox.__all__:
        assert getattr(sandbox, name) is not None


def test_faults_match_the_readme_table_in_order() -> None:
    assert list(FAULTS) == readme_fault_table()
    assert len(FAULTS) == 25
    assert all(description.strip() for description in FAULTS.values())


def test_fault_set_toggles_and_reports_in_catalogue_order() -> None:
    faults = FaultSet(["dashboard.slow"])
    assert faults.enabled() == ["dashboard.slow"]
    assert faults.set("health.down", True) is True
    assert faults.set("health.down", True) is False
    assert faults.enabled() == ["health.down", "dashboard.slow"]
    assert faults.is_enabled("health.down")
    faults.set("health.down", False)
    assert not faults.is_enabled("health.down")
    faults.clear()
    assert faults.enabled() == []


def test_fault_set_activation_changes_each_time_a_fault_is_turned_on() -> None:
    faults = FaultSet()
    assert faults.activation("transient.http_503") is None
    faults.set("transient.http_503", True)
    first = faults.activation("transient.http_503")
    faults.set("transient.http_503", False)
    faults.set("transient.http_503", True)
    assert first is not None
    assert faults.activation("transient.http_503") not in (None, first)


def test_unknown_fault_names_the_valid_ones() -> None:
    with pytest.raises(
        ValueError,
        match=r"Unknown fault 'health\.sideways'\. Valid faults: "
        r"health\.down, version\.stale",
    ):
        FaultSet(["health.sideways"])
    with pytest.raises(ValueError, match=r"transient\.slow_start"):
        FaultSet().set("nope", True)


def test_fault_set_is_safe_under_concurrent_toggles() -> None:
    faults = FaultSet()
    names = list(FAULTS)

    def toggle(offset: int) -> None:
        for i in range(300):
            faults.set(names[(i + offset) % len(names)], i % 2 == 0)

    threads = [threading.Thread(target=toggle, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(faults.enabled()) <= set(names)


def test_credentials_defaults_are_the_documented_values() -> None:
    creds = SandboxCredentials()
    assert creds.e2e_token == "sandbox-e2e-token"
    assert (creds.test_email, creds.test_password) == (
        "smoke@sandbox.test",
        "smoke-sandbox-password",
    )
    assert (creds.other_email, creds.other_password) == (
        "ops@globex.test",
        "globex-sandbox-password",
    )
    assert creds.stripe_secret_key == "sk_test_sandbox"
    assert creds.stripe_publishable_key == "pk_test_sandbox"
    assert creds.stripe_webhook_secret == "whsec_sandbox"
    assert creds.stripe_mode == "test"
    assert SandboxCredentials(stripe_secret_key="sk_live_x").stripe_mode == "live"


def test_credentials_round_trip_through_the_environment() -> None:
    creds = SandboxCredentials(e2e_token="tok-1", test_password="pw-2", stripe_webhook_secret="w")
    env = creds.to_env()
    assert env["SANDBOX_E2E_TOKEN"] == "tok-1"
    assert SandboxCredentials.from_env(env) == creds
    partial = SandboxCredentials.from_env({"SANDBOX_TEST_EMAIL": "smoke+x@sandbox.test"})
    assert partial.test_email == "smoke+x@sandbox.test"
    assert partial.e2e_token == "sandbox-e2e-token"


def test_credentials_repr_hides_every_secret() -> None:
    creds = SandboxCredentials(
        e2e_token="SECRET-a",
        test_password="SECRET-b",
        other_password="SECRET-c",
        stripe_secret_key="sk_test_SECRET-d",
        stripe_webhook_secret="whsec_SECRET-e",
    )
    assert "SECRET" not in repr(creds)
    assert "smoke@sandbox.test" in repr(creds)
    assert len(creds.secret_values()) == 5


@pytest.mark.parametrize(
    ("version", "previous"),
    [
        ("1.4.2", "1.4.1"),
        ("2.3.4", "2.3.3"),
        ("1.0.0", "1.0.0-previous"),
        ("abc123", "abc122"),
        ("main", "main-previous"),
    ],
)
def test_previous_version(version: str, previous: str) -> None:
    assert previous_version(version) == previous


@pytest.mark.parametrize(
    ("email", "reserved"),
    [
        ("smoke@sandbox.test", True),
        ("SMOKE@sandbox.test", True),
        ("smoke+onboarding@sandbox.test", True),
        ("smoke+a.b@sandbox.test", True),
        ("smoke+@sandbox.test", False),
        ("smoke@sandbox.test.evil", False),
        ("xsmoke+a@sandbox.test", False),
        ("smoke+a@sandbox.tests", False),
        ("ops@globex.test", False),
        ("someone@example.com", False),
    ],
)
def test_reserved_identities(email: str, reserved: bool) -> None:
    assert is_reserved_identity(email, SandboxCredentials()) is reserved


def test_rate_limiter_allows_the_limit_then_says_when_to_retry() -> None:
    limiter = RateLimiter(limit=3, window_s=10.0)
    assert [limiter.retry_after("a") for _ in range(3)] == [None, None, None]
    wait = limiter.retry_after("a")
    assert wait is not None
    assert 1 <= wait <= 10
    assert limiter.retry_after("b") is None


def test_seed_tiers_are_idempotent_and_perf_is_big(tmp_path: Path) -> None:
    db = Database.create(tmp_path / "seed.db")
    today = date(2026, 1, 15)
    smoke = seed_tier(db, "smoke", today)
    assert (smoke.tenants, smoke.records) == (2, 200)
    assert seed_tier(db, "smoke", today) == smoke
    perf = seed_tier(db, "perf", today)
    assert perf.tenants == 100
    assert perf.records >= 50_000
    assert seed_tier(db, "perf", today) == perf
    oldest = db.scalar("SELECT min(date) FROM history WHERE id LIKE 'hist-perf-%'")
    newest = db.scalar("SELECT max(date) FROM history WHERE id LIKE 'hist-perf-%'")
    months = (date.fromisoformat(newest) - date.fromisoformat(oldest)).days / 30.4
    assert 23 <= months <= 25
    with pytest.raises(ValueError, match="Valid tiers: smoke, dev, perf"):
        seed_tier(db, "huge")


def test_sandbox_code_never_imports_localstripe() -> None:
    # localstripe is GPL-3.0: only its own child process may import it.
    import subprocess
    import sys

    probe = (
        "import sys, sandbox, sandbox.app, sandbox.runner, sandbox.localstripe_process; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'localstripe'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
