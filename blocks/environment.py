"""The SmokeEnvironment block: one target environment's configuration and secrets."""

from __future__ import annotations

from typing import ClassVar

from prefect.blocks.core import Block

from smoke.config import SmokeConfig


class SmokeEnvironment(Block, SmokeConfig):
    """Base and API URLs, auth, test identities, e2e token, Stripe test keys, flags.

    Secrets are SecretStr: the Prefect UI shows them masked and they never appear in
    a flow run's parameters (flows take the environment's name, not its values).
    """

    _block_type_name: ClassVar[str] = "Smoke Environment"
    _block_type_slug: ClassVar[str] = "smoke-environment"
    _description: ClassVar[str] = (
        "A target environment for smoke flows: URLs, auth, test identities, the e2e token, "
        "Stripe test keys, production flag and per-journey overrides."
    )

    def to_config(self, name: str) -> SmokeConfig:
        """The plain configuration, named after the block document."""
        values = {field: getattr(self, field) for field in SmokeConfig.model_fields}
        values["name"] = name
        return SmokeConfig.model_validate(values)

    @classmethod
    def from_config(cls, config: SmokeConfig) -> SmokeEnvironment:
        """A block holding ``config``'s values."""
        return cls.model_validate({f: getattr(config, f) for f in SmokeConfig.model_fields})
