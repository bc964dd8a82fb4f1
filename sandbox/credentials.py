"""The sandbox's credentials: fixed development defaults, each one overridable.

The server runs in a subprocess and receives them through environment variables
(``to_env``/``from_env``), never on its command line, so they don't show in ``ps``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

ENV_PREFIX = "SANDBOX_"


@dataclass(frozen=True)
class SandboxCredentials:
    """Tokens, passwords and keys the sandbox accepts; the repr hides every secret."""

    e2e_token: str = field(default="sandbox-e2e-token", repr=False)
    test_email: str = "smoke@sandbox.test"
    test_password: str = field(default="smoke-sandbox-password", repr=False)
    other_email: str = "ops@globex.test"
    other_password: str = field(default="globex-sandbox-password", repr=False)
    stripe_secret_key: str = field(default="sk_test_sandbox", repr=False)
    stripe_publishable_key: str = "pk_test_sandbox"
    stripe_webhook_secret: str = field(default="whsec_sandbox", repr=False)

    @staticmethod
    def env_name(field_name: str) -> str:
        """The environment variable that carries ``field_name``, e.g. ``SANDBOX_E2E_TOKEN``."""
        return ENV_PREFIX + field_name.upper()

    def to_env(self) -> dict[str, str]:
        """Environment variables that make ``from_env`` rebuild these credentials."""
        return {self.env_name(f.name): getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxCredentials:
        """Credentials from ``SANDBOX_*`` variables; a missing one keeps its default."""
        env = os.environ if environ is None else environ
        values = {
            f.name: env[cls.env_name(f.name)] for f in fields(cls) if cls.env_name(f.name) in env
        }
        return cls(**values)

    def secret_values(self) -> list[str]:
        """Every value that must never appear in logs or output."""
        return [
            self.e2e_token,
            self.test_password,
            self.other_password,
            self.stripe_secret_key,
            self.stripe_webhook_secret,
        ]

    @property
    def stripe_mode(self) -> str:
        """``"live"`` for a live secret key, else ``"test"``."""
        live = self.stripe_secret_key.startswith(("sk_live_", "rk_live_"))
        return "live" if live else "test"
