"""Per-environment configuration: one model, loaded from a block, the sandbox, or SMOKE_* vars.

``SmokeConfig`` holds everything about one target environment. The ``SmokeEnvironment``
block (``blocks/``) and ``SmokeSettings`` (environment variables and ``.env``) share its
fields, so there is one list of settings and one set of names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from smoke import identities, origins
from smoke.errors import ConfigError, LiveStripeKeyError
from smoke.scrub import scrubber
from smoke.spec import load_spec

# How every identity (test, other, admin) is signed in; see tasks/signin.py.
AuthMethod = Literal["password", "basic", "api_key", "static_token", "cookie_session", "browser"]

STRIPE_TEST_PREFIXES = ("sk_test_", "rk_test_")
# The environment name of the local sandbox the CLI starts for a run (`--env sandbox`).
SANDBOX = "sandbox"

START_TIMEOUT_ENV = "SMOKE_START_TIMEOUT_S"
# Start-ups (sandbox, Prefect's server, Chromium, localstripe) are bounded only to turn
# a hang into a clear error; a busy machine's first start can take a minute or more.
DEFAULT_START_TIMEOUT_S = 120.0


class SmokeConfig(BaseModel):
    """Everything the journeys need to know about one target environment."""

    name: str = Field(
        default="env", description="Environment name, as used by --env and in reports."
    )
    base_url: str = Field(
        default="",
        description="Browser-facing base URL of the product, e.g. https://staging.example.com",
    )
    api_url: str = Field(default="", description="Base URL of the API; defaults to base_url.")
    auth_method: AuthMethod = Field(
        default="password",
        description=(
            "How the identities sign in: 'password' (OAuth2 password form post, bearer "
            "token), 'basic' (HTTP Basic with email and password), 'api_key' (the token in "
            "api_key_header), 'static_token' (the token as a bearer token), "
            "'cookie_session' (form login with a CSRF token read from the login page) or "
            "'browser' (the browser login; its cookies are the session)."
        ),
    )
    static_token: SecretStr | None = Field(
        default=None,
        description="The test identity's token when auth_method is 'static_token' or 'api_key'.",
    )
    api_key_header: str = Field(
        default="X-API-Key", description="The header that carries the key (auth_method 'api_key')."
    )
    test_email: str = Field(default="", description="The reserved test identity's login.")
    test_password: SecretStr | None = Field(
        default=None, description="The reserved test identity's password."
    )
    other_email: str = Field(
        default="", description="A user of a second tenant (tenant-isolation check)."
    )
    other_password: SecretStr | None = Field(default=None, description="That user's password.")
    other_token: SecretStr | None = Field(
        default=None, description="That user's token (auth_method 'static_token' or 'api_key')."
    )
    other_tenant_id: str | None = Field(
        default=None,
        description="The second tenant's id; found by signing in as other_email when unset.",
    )
    admin_email: str = Field(
        default="",
        description=(
            "An admin identity for setup and teardown requests (auth: admin) in apps "
            "without an e2e API; it only ever touches what the run created."
        ),
    )
    admin_password: SecretStr | None = Field(default=None, description="The admin's password.")
    admin_token: SecretStr | None = Field(
        default=None, description="The admin's token (auth_method 'static_token' or 'api_key')."
    )
    e2e_token: SecretStr | None = Field(
        default=None, description="X-E2E-Test-Token for the target's e2e endpoints."
    )
    stripe_secret_key: SecretStr | None = Field(
        default=None, description="Stripe TEST key (sk_test_/rk_test_); live keys are refused."
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, description="Stripe webhook signing secret (whsec_...)."
    )
    stripe_api_base: str = Field(
        default="https://api.stripe.com", description="Stripe API base URL."
    )
    production: bool = Field(
        default=False, description="A production environment runs read-only checks only."
    )
    allow_writes: bool = Field(
        default=False, description="Allow writing checks in production anyway."
    )
    contract_file: str | None = Field(
        default=None, description="YAML or JSON file with journey overrides."
    )
    journeys: dict[str, Any] = Field(default_factory=dict, description="Inline journey overrides.")
    http_timeout_s: float = Field(
        default=10.0, gt=0, description="Timeout of one HTTP request, in seconds."
    )
    start_timeout_s: float = Field(
        default=DEFAULT_START_TIMEOUT_S,
        gt=0,
        description="How long Chromium may take to start before it counts as hung, in seconds.",
    )
    slack_target: str | None = Field(
        default=None, description="Name of a SlackTarget block for notifications."
    )
    slack_token: SecretStr | None = Field(default=None, description="Slack bot token (xoxb-...).")
    slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming-webhook URL."
    )
    slack_channel: str | None = Field(default=None, description="Slack channel for the bot token.")
    slack_api_url: str | None = Field(
        default=None, description="Slack Web API base URL (tests point it at a local server)."
    )
    slack_mentions: list[str] = Field(
        default_factory=list, description="People or groups to mention on failure."
    )
    rollback_webhook_url: SecretStr | None = Field(
        default=None, description="Called with the failed checks on a FAIL in gate mode."
    )
    rollback_deployment: str | None = Field(
        default=None, description="Prefect deployment to run on a FAIL in gate mode."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Origins besides base_url, api_url and stripe_api_base that contract URLs may "
            "point at and credentials may go to, e.g. https://login.example.com"
        ),
    )
    reserved_identities: list[str] = Field(
        default_factory=lambda: list(identities.DEFAULT_RESERVED),
        description=(
            "Glob patterns of the test identities the suite may write and clean up as, "
            "e.g. smoke+*@example.com (* is any run of characters but @)."
        ),
    )

    @field_validator("base_url", "api_url", "stripe_api_base", "slack_api_url")
    @classmethod
    def _strip_slash(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else v

    @property
    def api_base(self) -> str:
        """The API base URL (api_url, else base_url)."""
        return self.api_url or self.base_url

    @property
    def writes_allowed(self) -> bool:
        """Writing checks (signup, checkout) may run here."""
        return not self.production or self.allow_writes

    def secret_values(self) -> list[str]:
        """Every secret value this configuration holds, passwords inside URLs included."""
        out = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out.append(value.get_secret_value())
            elif isinstance(value, str) and (password := _url_password(value)):
                # A URL that carries a password is refused; until then it is a secret.
                out.append(password)
        return out

    def validate_for_run(self, *, partial: bool = False) -> None:
        """Refuse what would make a run unsafe or meaningless; no network is touched.

        Besides the settings themselves, the contract is loaded and checked: every
        absolute URL in it stays within the environment's origins, and every write goes
        out as a reserved test identity.

        ``partial``: only the values that are set (SMOKE_* overrides of a block that is
        not loaded yet), not that the environment is complete; the contract is checked
        once the whole environment is known.
        """
        check_test_key(self.stripe_secret_key)
        origins.check_url_settings(self)
        for field in ("base_url", "api_url", "stripe_api_base", "slack_api_url"):
            value = getattr(self, field)
            if value or (field == "base_url" and not partial):
                check_url(
                    value, f"{field} of environment {self.name!r}", env_var=f"SMOKE_{field.upper()}"
                )
        if (
            self.auth_method in ("static_token", "api_key")
            and not self.static_token
            and not partial
        ):
            raise ConfigError(
                f"Environment {self.name!r} uses auth_method {self.auth_method!r} "
                "but has no static_token. "
                "Set SMOKE_STATIC_TOKEN or the block's static_token."
            )
        if partial:
            return
        spec = load_spec(self.contract_file, self.journeys or None)
        origins.check_contract_origins(self, spec)
        identities.check_identities(self, spec)


def _url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password
    except ValueError:  # not a URL at all; check_url says so
        return None


def check_test_key(key: SecretStr | None) -> None:
    """Refuse a Stripe key that is not a test-mode key, before any network call."""
    if key is None:
        return
    value = key.get_secret_value()
    if not value.startswith(STRIPE_TEST_PREFIXES):
        kind = (
            "a live key" if value.startswith(("sk_live_", "rk_live_")) else "not a Stripe test key"
        )
        raise LiveStripeKeyError(
            f"Refusing to run: the configured Stripe key is {kind} (it must start with sk_test_ or "
            "rk_test_). Smoke tests never touch live payments; "
            "set SMOKE_STRIPE_SECRET_KEY to a test key."
        )


def check_url(value: str | None, what: str, env_var: str) -> None:
    """Raise ConfigError unless ``value`` is an absolute http(s) URL with a valid port."""
    try:
        parts = urlsplit(value or "")
        parts.port  # noqa: B018  # raises ValueError for a port out of range
    except ValueError as e:
        problem = f" ({e})"
    else:
        if parts.scheme in ("http", "https") and parts.hostname:
            return
        problem = ""
    raise ConfigError(
        f"The {what} is {origins.redact(value or '')!r}, which is not an http(s) URL{problem}. "
        f"Set it (or {env_var}) to something like https://staging.example.com"
    )


def start_timeout_s(environ: Mapping[str, str] = os.environ) -> float:
    """How long a start-up may take before it counts as hung (SMOKE_START_TIMEOUT_S)."""
    raw = environ.get(START_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_START_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ConfigError(
            f"{START_TIMEOUT_ENV}={raw!r} is not a number of seconds above 0, e.g. {START_TIMEOUT_ENV}=300"
        )
    return value


class SmokeSettings(SmokeConfig, BaseSettings):
    """SmokeConfig read from SMOKE_* environment variables and a ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="SMOKE_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )


def env_overrides() -> dict[str, Any]:
    """The SmokeConfig fields set through SMOKE_* variables or ``.env``, and only those."""
    try:
        settings = SmokeSettings()
    except ValidationError as e:
        raise ConfigError(f"Invalid SMOKE_* setting: {_first_error(e)}") from e
    except SettingsError as e:
        # A value pydantic-settings cannot even decode (SMOKE_JOURNEYS='{not json').
        raise ConfigError(
            f"Invalid SMOKE_* setting: {e}. Values of list and mapping settings "
            'are JSON, e.g. SMOKE_JOURNEYS=\'{"billing": {"enabled": false}}\''
        ) from e
    return {name: getattr(settings, name) for name in settings.model_fields_set}


def apply_env_overrides(config: SmokeConfig) -> SmokeConfig:
    """SMOKE_* variables win over any environment's values, the sandbox's included."""
    overrides = env_overrides()
    overrides.pop("name", None)
    merged = config.model_copy(update=overrides) if overrides else config
    register_secrets(merged)
    return merged


def from_env(name: str) -> SmokeConfig:
    """An environment configured by SMOKE_* variables alone."""
    config = SmokeConfig(name=name).model_copy(update=env_overrides() | {"name": name})
    register_secrets(config)
    return config


def unknown_environment(name: str, where: str) -> ConfigError:
    """The error for an environment nothing configures (``where``: where it was looked for)."""
    if name == SANDBOX:
        return ConfigError(
            f"Unknown environment {name!r}: no sandbox was started for this run and {where}. "
            "`smoke gate --env sandbox` and a gate or journey flow run start one themselves "
            "(it needs the `sandbox` dependency group: `uv sync`); to keep one running for "
            "anything else, run `smoke sandbox --port 8800 --push-block local` and use `local`."
        )
    return ConfigError(
        f"Unknown environment {name!r}: {where}, and SMOKE_BASE_URL is not set. "
        f"Use --env sandbox for the local sandbox, push a block with "
        f"`smoke blocks push --env {name}`, or set SMOKE_BASE_URL and friends."
    )


def dotenv_has_base_url(env_file: Path = Path(".env")) -> bool:
    """True when the working folder's ``.env`` sets SMOKE_BASE_URL."""
    return env_file.is_file() and any(
        line.strip().startswith("SMOKE_BASE_URL=") for line in env_file.read_text().splitlines()
    )


def register_secrets(config: SmokeConfig) -> None:
    """Tell the scrubber about every secret value of ``config``."""
    scrubber.register(*config.secret_values())


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"SMOKE_{where.upper()}: {err['msg']}"
