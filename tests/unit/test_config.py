from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic import SecretStr

from smoke.config import (
    SmokeConfig,
    apply_env_overrides,
    check_test_key,
    check_url,
    env_overrides,
    from_env,
)
from smoke.errors import ConfigError, LiveStripeKeyError
from smoke.scrub import scrubber

TEST_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
LIVE_KEY = "sk_live_51HxYzAbCdEf0123456789"


def config(**kw: object) -> SmokeConfig:
    values: dict[str, object] = {"name": "staging", "base_url": "https://staging.example.com"}
    return SmokeConfig.model_validate(values | kw)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_from_env_reads_smoke_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOKE_BASE_URL", "https://staging.example.com/")
    monkeypatch.setenv("SMOKE_TEST_EMAIL", "smoke@example.com")
    monkeypatch.setenv("SMOKE_TEST_PASSWORD", "correct-horse-battery")
    monkeypatch.setenv("SMOKE_PRODUCTION", "true")
    monkeypatch.setenv("SMOKE_HTTP_TIMEOUT_S", "2.5")
    monkeypatch.setenv("SMOKE_SLACK_MENTIONS", '["@oncall"]')
    monkeypatch.setenv("SMOKE_JOURNEYS__DASHBOARD__BUDGET_MS", "250")
    monkeypatch.setenv("SMOKE_NAME", "ignored")
    cfg = from_env("staging")
    assert cfg.name == "staging"
    assert cfg.base_url == "https://staging.example.com"  # trailing slash stripped
    assert cfg.api_base == "https://staging.example.com"
    assert cfg.test_email == "smoke@example.com"
    assert cfg.test_password is not None
    assert cfg.test_password.get_secret_value() == "correct-horse-battery"
    assert cfg.production is True
    assert cfg.writes_allowed is False
    assert cfg.http_timeout_s == 2.5
    assert cfg.slack_mentions == ["@oncall"]
    assert cfg.journeys == {"dashboard": {"budget_ms": 250}}


def test_from_env_with_nothing_set_is_the_defaults() -> None:
    assert from_env("local") == SmokeConfig(name="local")


def test_env_overrides_lists_only_what_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_overrides() == {}
    monkeypatch.setenv("SMOKE_ALLOW_WRITES", "1")
    assert env_overrides() == {"allow_writes": True}


def test_a_dotenv_file_in_the_working_folder_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SMOKE_TEST_EMAIL=dotenv@example.com\n")
    assert env_overrides() == {"test_email": "dotenv@example.com"}


def test_env_variables_win_over_an_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    base = config(api_url="https://api.staging.example.com", test_email="block@example.com")
    monkeypatch.setenv("SMOKE_TEST_EMAIL", "env@example.com")
    monkeypatch.setenv("SMOKE_NAME", "not-this")
    merged = apply_env_overrides(base)
    assert merged.name == "staging"
    assert merged.test_email == "env@example.com"
    assert merged.api_base == "https://api.staging.example.com"
    assert base.test_email == "block@example.com"


def test_an_invalid_variable_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOKE_HTTP_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError) as info:
        from_env("staging")
    assert str(info.value) == (
        "Invalid SMOKE_* setting: SMOKE_HTTP_TIMEOUT_S: "
        "Input should be a valid number, unable to parse string as a number"
    )


def test_a_live_stripe_key_is_refused_before_anything_else(no_network: None) -> None:
    # The URL is broken too: the key is checked first, and nothing touches the network.
    cfg = config(base_url="not a url", stripe_secret_key=LIVE_KEY)
    with pytest.raises(LiveStripeKeyError) as info:
        cfg.validate_for_run()
    assert str(info.value) == (
        "Refusing to run: the configured Stripe key is a live key (it must start with "
        "sk_test_ or rk_test_). Smoke tests never touch live payments; "
        "set SMOKE_STRIPE_SECRET_KEY to a test key."
    )
    assert LIVE_KEY not in str(info.value)
    assert isinstance(info.value, ConfigError)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("rk_live_abcdef123456", "a live key"),
        ("pk_test_abcdef123456", "not a Stripe test key"),
        ("whsec_abcdef123456", "not a Stripe test key"),
    ],
)
def test_other_non_test_keys_are_refused(key: str, kind: str) -> None:
    with pytest.raises(LiveStripeKeyError, match=f"the configured Stripe key is {kind} "):
        check_test_key(SecretStr(key))


@pytest.mark.parametrize("key", [TEST_KEY, "rk_test_abcdef123456", None])
def test_test_keys_and_no_key_are_accepted(key: str | None) -> None:
    check_test_key(SecretStr(key) if key else None)


def test_a_live_key_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOKE_BASE_URL", "https://staging.example.com")
    monkeypatch.setenv("SMOKE_STRIPE_SECRET_KEY", LIVE_KEY)
    with pytest.raises(LiveStripeKeyError):
        from_env("staging").validate_for_run()


@pytest.mark.parametrize(
    ("field", "value", "env_var"),
    [
        ("base_url", "staging.example.com", "SMOKE_BASE_URL"),
        ("base_url", "", "SMOKE_BASE_URL"),
        ("api_url", "ftp://api.example.com", "SMOKE_API_URL"),
        ("stripe_api_base", "localhost:12111", "SMOKE_STRIPE_API_BASE"),
        ("slack_api_url", "https://", "SMOKE_SLACK_API_URL"),
    ],
)
def test_a_malformed_url_is_a_config_error_naming_the_env_var(
    field: str, value: str, env_var: str
) -> None:
    cfg = config(**{field: value})
    with pytest.raises(ConfigError) as info:
        cfg.validate_for_run()
    shown = value.rstrip("/")
    assert str(info.value) == (
        f"The {field} of environment 'staging' is {shown!r}, which is not an http(s) URL. "
        f"Set it (or {env_var}) to something like https://staging.example.com"
    )


def test_check_url_accepts_http_and_https() -> None:
    check_url("http://127.0.0.1:8000", "base_url", env_var="SMOKE_BASE_URL")
    check_url("https://staging.example.com/app", "base_url", env_var="SMOKE_BASE_URL")


def test_static_token_auth_needs_a_token() -> None:
    with pytest.raises(ConfigError) as info:
        config(auth_method="static_token").validate_for_run()
    assert str(info.value) == (
        "Environment 'staging' uses auth_method 'static_token' but has no static_token. "
        "Set SMOKE_STATIC_TOKEN or the block's static_token."
    )
    config(auth_method="static_token", static_token="tok-123456").validate_for_run()


def test_a_valid_config_passes() -> None:
    config(stripe_secret_key=TEST_KEY, api_url="https://api.example.com").validate_for_run()


def test_writes_are_allowed_outside_production_or_when_explicit() -> None:
    assert config().writes_allowed
    assert not config(production=True).writes_allowed
    assert config(production=True, allow_writes=True).writes_allowed


SECRETS = {
    "SMOKE_TEST_PASSWORD": "correct-horse-battery",
    "SMOKE_OTHER_PASSWORD": "other-tenant-pass",
    "SMOKE_E2E_TOKEN": "e2e-token-0123456789",
    "SMOKE_STRIPE_SECRET_KEY": TEST_KEY,
    "SMOKE_STRIPE_WEBHOOK_SECRET": "whsec_0123456789abcdef",
    "SMOKE_SLACK_TOKEN": "xoxb-1-2-abcdef",
    "SMOKE_STATIC_TOKEN": "static-token-0123456789",
}


def test_secrets_are_registered_with_the_scrubber(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    cfg = from_env("staging")
    assert sorted(cfg.secret_values()) == sorted(SECRETS.values())
    for value in SECRETS.values():
        assert value in scrubber.known()
        assert scrubber.text(f"saw {value}!") == "saw ***!"


def test_apply_env_overrides_registers_the_environments_secrets() -> None:
    apply_env_overrides(config(e2e_token="block-e2e-token-99"))
    assert scrubber.text("block-e2e-token-99") == "***"


def test_secret_values_never_appear_in_repr_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    cfg = from_env("staging")
    shown = [repr(cfg), str(cfg), cfg.model_dump_json(), str(cfg.model_dump())]
    for text in shown:
        for value in SECRETS.values():
            assert value not in text
    assert "SecretStr('**********')" in repr(cfg)
