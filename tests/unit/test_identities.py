"""Writes and cleanup only ever act as a reserved test identity."""

from __future__ import annotations

import re
from typing import Any

import pytest

from smoke.config import SmokeConfig, from_env
from smoke.errors import ConfigError
from smoke.identities import (
    DEFAULT_RESERVED,
    check_cleanup,
    check_identities,
    emails_in,
    is_reserved,
)
from smoke.spec import Request, load_spec
from tests.support.samples import config

SANDBOX_PATTERNS = list(DEFAULT_RESERVED)


@pytest.mark.parametrize(
    ("email", "reserved"),
    [
        ("smoke@sandbox.test", True),
        ("SMOKE@Sandbox.Test", True),
        ("smoke+onboarding@sandbox.test", True),
        ("smoke+@sandbox.test", True),
        ("ops@globex.test", False),
        ("smoke@sandbox.test.evil.test", False),
        ("smoke+x@evil.test@sandbox.test", False),  # `*` never spans an @
        ("smoke+a b@sandbox.test", False),
        ("xsmoke@sandbox.test", False),
        ("", False),
    ],
)
def test_the_default_patterns_are_the_sandboxs_reserved_identities(
    email: str, reserved: bool
) -> None:
    assert is_reserved(email, SANDBOX_PATTERNS) is reserved


def test_patterns_are_globs_with_literal_dots_and_question_marks() -> None:
    assert is_reserved("smoke+ci@tasklog.example.com", ["smoke+*@tasklog.example.com"])
    assert not is_reserved("smoke+ci@tasklogXexample.com", ["smoke+*@tasklog.example.com"])
    assert is_reserved("qa1@example.com", ["qa?@example.com"])
    assert not is_reserved("qa12@example.com", ["qa?@example.com"])
    assert not is_reserved("anyone@example.com", [])


def test_emails_in_fills_known_placeholders_and_looks_everywhere() -> None:
    part = {"to": ["{{email}}", "x"], "note": "copy {{cc}} and a@b.test", "{{other}}": 1}
    found = emails_in(part, {"email": "smoke+1@sandbox.test", "other": "c@d.test"})
    assert found == ["smoke+1@sandbox.test", "a@b.test", "c@d.test"]


def test_the_default_configuration_is_accepted() -> None:
    check_identities(config(), load_spec())


def test_a_test_identity_outside_the_patterns_is_refused_naming_setting_and_patterns() -> None:
    with pytest.raises(ConfigError) as e:
        check_identities(config(test_email="ops@globex.test"), load_spec())
    message = str(e.value)
    assert "The test identity (test_email, SMOKE_TEST_EMAIL) is 'ops@globex.test'" in message
    assert "reserved_identities (SMOKE_RESERVED_IDENTITIES" in message
    assert "[smoke@sandbox.test, smoke+*@sandbox.test]" in message


def test_the_test_identity_is_checked_in_production_too() -> None:
    with pytest.raises(ConfigError, match="test_email"):
        check_identities(config(test_email="ops@globex.test", production=True), load_spec())


def test_a_test_identity_inside_configured_patterns_is_accepted() -> None:
    cfg = config(
        test_email="smoke+ci@tasklog.example.com",
        reserved_identities=["smoke+*@tasklog.example.com"],
        journeys={"onboarding": {"inputs": {"email": "smoke+onboarding@tasklog.example.com"}}},
    )
    check_identities(cfg, load_spec(inline=cfg.journeys))


def test_an_onboarding_input_email_outside_the_patterns_is_refused() -> None:
    inline = {"onboarding": {"inputs": {"email": "ops@globex.test", "full_name": "X"}}}
    with pytest.raises(ConfigError) as e:
        check_identities(config(), load_spec(inline=inline))
    assert "onboarding.inputs.email is 'ops@globex.test'" in str(e.value)


def test_an_onboarding_input_naming_the_second_tenant_by_placeholder_is_refused() -> None:
    inline = {"onboarding": {"inputs": {"email": "{{other_email}}"}}}
    with pytest.raises(ConfigError, match=re.escape("'ops@globex.test'")):
        check_identities(config(), load_spec(inline=inline))


def test_onboarding_inputs_are_not_checked_where_onboarding_cannot_write() -> None:
    inline: dict[str, Any] = {"onboarding": {"inputs": {"email": "someone@prod.test"}}}
    check_identities(config(production=True), load_spec(inline=inline))
    disabled = {"onboarding": {"enabled": False, "inputs": {"email": "someone@prod.test"}}}
    check_identities(config(), load_spec(inline=disabled))
    with pytest.raises(ConfigError, match=re.escape("onboarding.inputs.email")):
        check_identities(config(production=True, allow_writes=True), load_spec(inline=inline))


def test_a_cleanup_aimed_at_another_address_is_refused() -> None:
    inline = {"onboarding": {"cleanup": {"body": {"email": "victim@globex.test"}}}}
    with pytest.raises(ConfigError) as e:
        check_identities(config(), load_spec(inline=inline))
    assert "writing request onboarding.cleanup is 'victim@globex.test'" in str(e.value)


def test_no_writing_request_may_act_as_the_second_tenant_even_a_reserved_one() -> None:
    cfg = config(other_email="smoke+other@sandbox.test")
    body = {"plan_id": "{{plan_id}}", "for": "{{other_email}}"}
    inline = {"billing": {"checkout": {"body": body}}}
    with pytest.raises(ConfigError) as e:
        check_identities(cfg, load_spec(inline=inline))
    assert "billing.checkout would act as 'smoke+other@sandbox.test'" in str(e.value)
    assert "other_email is read-only" in str(e.value)


def test_check_cleanup_checks_the_rendered_request() -> None:
    cleanup = Request(method="POST", path="/e2e/cleanup", body={"email": "{{email}}"})
    cfg = config()
    check_cleanup("onboarding.cleanup", cleanup, {"email": "smoke+onboarding@sandbox.test"}, cfg)
    with pytest.raises(ConfigError, match=re.escape("'ops@globex.test'")):
        check_cleanup("onboarding.cleanup", cleanup, {"email": "ops@globex.test"}, cfg)
    in_query = Request(method="DELETE", path="/users", params={"email": "{{email}}"})
    with pytest.raises(ConfigError, match=re.escape("'someone@else.test'")):
        check_cleanup("onboarding.cleanup", in_query, {"email": "someone@else.test"}, cfg)


def test_validate_for_run_checks_identities_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match="test_email"):
        config(test_email="ops@globex.test").validate_for_run()
    # Partial validation (a block not read yet) leaves it to the whole configuration.
    config(test_email="ops@globex.test").validate_for_run(partial=True)


def test_reserved_identities_read_from_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOKE_BASE_URL", "https://staging.example.com")
    monkeypatch.setenv("SMOKE_RESERVED_IDENTITIES", '["smoke+*@example.com"]')
    assert from_env("staging").reserved_identities == ["smoke+*@example.com"]
    assert SmokeConfig().reserved_identities == SANDBOX_PATTERNS
