"""Starting the local sandbox for one run: its credentials and the config that points at it.

Prefect-free, so the CLI's path to an exit-2 error can use it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import SecretStr

from sandbox import RunningSandbox, SandboxCredentials, SandboxStartError, start_sandbox
from smoke.config import SANDBOX, SmokeConfig, check_test_key, env_overrides, start_timeout_s
from smoke.errors import SmokeSystemError

DEFAULT_VERSION = "1.0.0"

# SMOKE_* settings that the sandbox must accept too: set one and the sandbox is started
# with it, so a test can use unique marker values end to end.
_SHARED = (
    "e2e_token",
    "test_email",
    "test_password",
    "other_email",
    "other_password",
    "stripe_secret_key",
    "stripe_webhook_secret",
)


def sandbox_credentials() -> SandboxCredentials:
    """The sandbox's default credentials with any SMOKE_* overrides applied."""
    overrides = env_overrides()
    check_test_key(overrides.get("stripe_secret_key"))
    values = {}
    for name in _SHARED:
        if name in overrides and overrides[name] is not None:
            value = overrides[name]
            values[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return SandboxCredentials(**values)


def sandbox_config(sb: RunningSandbox) -> SmokeConfig:
    """The SmokeConfig that points at a running sandbox."""
    creds = sb.credentials
    return SmokeConfig(
        name=SANDBOX,
        base_url=sb.base_url,
        api_url=sb.api_url,
        test_email=creds.test_email,
        test_password=SecretStr(creds.test_password),
        other_email=creds.other_email,
        other_password=SecretStr(creds.other_password),
        e2e_token=SecretStr(creds.e2e_token),
        stripe_secret_key=SecretStr(creds.stripe_secret_key),
        stripe_webhook_secret=SecretStr(creds.stripe_webhook_secret),
        stripe_api_base=sb.stripe_api_base,
    )


def start_local_sandbox(faults: Sequence[str] = (), version: str | None = None) -> RunningSandbox:
    """Start the sandbox for one run; waits as long as a start may take (SMOKE_START_TIMEOUT_S)."""
    credentials = sandbox_credentials()
    try:
        return start_sandbox(
            faults=list(faults),
            version=version or DEFAULT_VERSION,
            credentials=credentials,
            ready_timeout=start_timeout_s(),
        )
    except SandboxStartError as e:
        hint = (
            " If this machine is only slow, allow longer with SMOKE_START_TIMEOUT_S (seconds)."
            if e.timed_out
            else ""
        )
        raise SmokeSystemError(f"The local sandbox did not start: {e}{hint}") from e
