"""Where requests and credentials may go: the environment's origins and nothing else."""

from __future__ import annotations

import re

import pytest

from smoke import origins
from smoke.config import SmokeConfig, check_url, from_env
from smoke.errors import ConfigError
from smoke.spec import load_spec


def config(**kw: object) -> SmokeConfig:
    values: dict[str, object] = {"name": "staging", "base_url": "https://staging.example.com"}
    return SmokeConfig.model_validate(values | kw)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Staging.Example.com/api/me?x=1", "https://staging.example.com"),
        ("https://staging.example.com:443/", "https://staging.example.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:80/x", "http://localhost"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
        ("https://user:pw@host.test:8443/x", "https://host.test:8443"),
    ],
)
def test_origin_is_scheme_host_and_port(url: str, expected: str) -> None:
    assert origins.origin(url) == expected


@pytest.mark.parametrize("url", ["/api/me", "ftp://host/x", "https://", "mailto:a@b.test"])
def test_origin_refuses_what_is_not_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="not an absolute http"):
        origins.origin(url)


@pytest.mark.parametrize(
    ("path", "absolute"),
    [
        ("/api/me", False),
        ("api/me", False),
        ("/api/{{x}}?next=https://elsewhere.test", False),
        ('[data-testid="a"]', False),
        ("**/app", False),
        ("https://elsewhere.test/x", True),
        ("  HTTP://elsewhere.test", True),
        ("//elsewhere.test/x", True),  # a browser resolves it to another host
    ],
)
def test_is_absolute(path: str, absolute: bool) -> None:
    assert origins.is_absolute(path) is absolute


def test_resolve_follows_the_client_and_the_browser() -> None:
    base = "https://api.example.com/v2"
    assert origins.resolve(base, "/me") == "https://api.example.com/v2/me"
    assert origins.resolve(base, "https://other.test/x") == "https://other.test/x"
    assert origins.resolve(base, "//other.test/x") == "https://other.test/x"


def test_redact_hides_user_and_password_only() -> None:
    assert origins.redact("http://user:pw@host.test:81/x?q=1") == "http://***@host.test:81/x?q=1"
    assert origins.redact("http://host.test/x") == "http://host.test/x"
    assert origins.has_credentials("http://user@host.test")
    assert not origins.has_credentials("http://host.test/a@b")


def test_the_allowed_origins_are_the_configured_urls_plus_the_setting() -> None:
    cfg = config(
        api_url="https://api.example.com",
        stripe_api_base="http://127.0.0.1:12111",
        allowed_origins=["https://login.example.com/"],
    )
    assert origins.allowed_origins(cfg) == {
        "https://staging.example.com",
        "https://api.example.com",
        "http://127.0.0.1:12111",
        "https://login.example.com",
    }


def test_may_send_credentials_only_to_an_allowed_origin() -> None:
    allowed = {"https://staging.example.com"}
    assert origins.may_send_credentials("https://staging.example.com/api/me", allowed)
    assert not origins.may_send_credentials("https://staging.example.com.evil.test/", allowed)
    assert not origins.may_send_credentials("http://staging.example.com/api/me", allowed)
    assert not origins.may_send_credentials("https://staging.example.com:8443/", allowed)
    assert not origins.may_send_credentials("https://u:p@staging.example.com/", allowed)
    assert not origins.may_send_credentials("not a url", allowed)


def test_absolute_urls_are_found_anywhere_with_their_key_path() -> None:
    spec = load_spec(
        inline={
            "auth": {
                "me": {"path": "https://evil.test/api/me"},
                "protected_routes": ["/api/me", "//evil.test/feed"],
                "browser_login": {"start_path": "https://idp.test/login"},
            },
            "onboarding": {"preview": {"page_path": "http://evil.test/p"}},
            "dashboard": {"ui": {"path": "https://evil.test/app"}},
        }
    )
    assert origins.absolute_urls(spec) == [
        ("auth.protected_routes[1]", "//evil.test/feed"),
        ("auth.me.path", "https://evil.test/api/me"),
        ("auth.browser_login.start_path", "https://idp.test/login"),
        ("onboarding.preview.page_path", "http://evil.test/p"),
        ("dashboard.ui.path", "https://evil.test/app"),
    ]


def test_urls_in_request_data_are_not_request_targets() -> None:
    spec = load_spec(
        inline={
            "billing": {
                "checkout": {
                    "body": {"plan_id": "{{plan_id}}", "return_url": "https://elsewhere.test/back"},
                    "params": {"next": "https://elsewhere.test"},
                    "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema"},
                }
            },
            "onboarding": {"inputs": {"email": "smoke+x@sandbox.test", "site": "https://a.test"}},
        }
    )
    assert origins.absolute_urls(spec) == []


def test_the_default_contract_stays_within_the_environment() -> None:
    origins.check_contract_origins(config(), load_spec())


def test_a_foreign_url_in_the_contract_names_its_key_path_and_the_fix() -> None:
    spec = load_spec(
        inline={
            "auth": {
                "me": {"path": "https://evil.test/api/me"},
                "login": {"request": {"path": "https://x:hunter22@evil.test/token"}},
            }
        }
    )
    with pytest.raises(ConfigError) as e:
        origins.check_contract_origins(config(), spec)
    message = str(e.value)
    assert "auth.login.request.path = https://***@evil.test/token" in message
    assert "auth.me.path = https://evil.test/api/me" in message
    assert "https://staging.example.com" in message
    assert "allowed_origins (SMOKE_ALLOWED_ORIGINS" in message
    assert "hunter22" not in message


def test_an_allowed_origin_may_be_named_in_the_contract() -> None:
    spec = load_spec(inline={"auth": {"browser_login": {"start_path": "https://idp.test/login"}}})
    origins.check_contract_origins(config(allowed_origins=["https://idp.test"]), spec)
    # The same URL with its own credentials is still refused.
    with_password = load_spec(inline={"auth": {"me": {"path": "https://u:secret9@idp.test/me"}}})
    with pytest.raises(ConfigError, match=re.escape("auth.me.path")):
        origins.check_contract_origins(config(allowed_origins=["https://idp.test"]), with_password)


def test_the_api_and_stripe_bases_are_allowed_in_the_contract() -> None:
    cfg = config(api_url="https://api.example.com", stripe_api_base="https://stripe.test")
    spec = load_spec(
        inline={
            "auth": {"me": {"path": "https://api.example.com/v1/me"}},
            "billing": {"webhook_path": "https://staging.example.com/hooks/stripe"},
        }
    )
    origins.check_contract_origins(cfg, spec)


@pytest.mark.parametrize("field", ["base_url", "api_url", "stripe_api_base", "slack_api_url"])
def test_a_url_setting_with_a_password_is_refused_without_showing_it(field: str) -> None:
    cfg = config(**{field: "http://deploy:canary-pw-7@staging.example.com"})
    with pytest.raises(ConfigError) as e:
        cfg.validate_for_run()
    message = str(e.value)
    assert f"The {field} of environment 'staging' carries a user name or password" in message
    assert "http://***@staging.example.com" in message
    assert f"SMOKE_{field.upper()}" in message
    assert "canary-pw-7" not in message
    assert "deploy" not in message


def test_a_password_in_a_url_is_a_secret_until_refused() -> None:
    cfg = config(base_url="http://deploy:canary-pw-7@staging.example.com")
    assert "canary-pw-7" in cfg.secret_values()


def test_a_malformed_url_setting_is_shown_without_its_password() -> None:
    with pytest.raises(ConfigError) as e:
        check_url("ftp://u:canary-pw-7@host.test", "base_url", env_var="SMOKE_BASE_URL")
    assert "'ftp://***@host.test', which is not an http(s) URL" in str(e.value)
    assert "canary-pw-7" not in str(e.value)


def test_validate_for_run_checks_the_contract_origins() -> None:
    cfg = config(journeys={"dashboard": {"ui": {"path": "https://evil.test/app"}}})
    with pytest.raises(ConfigError, match=r"dashboard\.ui\.path = https://evil\.test/app"):
        cfg.validate_for_run()
    cfg.model_copy(update={"allowed_origins": ["https://evil.test"]}).validate_for_run()


def test_an_allowed_origin_that_is_not_an_origin_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"allowed_origins\[0\].*not an http\(s\) origin"):
        config(allowed_origins=["login.example.com"]).validate_for_run()


def test_allowed_origins_read_from_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOKE_BASE_URL", "https://staging.example.com")
    monkeypatch.setenv("SMOKE_ALLOWED_ORIGINS", '["https://login.example.com"]')
    assert from_env("staging").allowed_origins == ["https://login.example.com"]


def test_a_url_urlsplit_refuses_is_still_checked_for_credentials_and_redacted() -> None:
    from smoke.origins import has_credentials, redact

    assert has_credentials("http://u:pw@[::1")
    assert redact("http://u:pw@[::1") == "http://***@[::1"
    assert not has_credentials("http://[::1")
