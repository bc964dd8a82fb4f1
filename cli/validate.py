"""Configuration checked before anything starts: ``smoke validate`` and every run's first step.

Nothing here imports Prefect or Playwright or touches the network, so a bad setting
or contract key exits 2 in well under a second, before a sandbox or a Prefect server
starts. An environment stored as a block is checked again, whole, once it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from smoke import catalog
from smoke.config import SANDBOX, SmokeConfig, dotenv_has_base_url, env_overrides, start_timeout_s
from smoke.spec import JOURNEYS, PREFLIGHT, DashboardSpec, OnboardingSpec, SuiteSpec, load_spec


@dataclass
class Validated:
    """What local validation established about a run's configuration."""

    environment: str
    # None when the environment is a block: its values are known only once it is read.
    config: SmokeConfig | None
    suite: SuiteSpec | None


def validate_locally(environment: str, contract_file: str | None = None) -> Validated:
    """Check SMOKE_* settings, the contract and the start-up bound; ConfigError if wrong."""
    start_timeout_s()
    overrides = env_overrides()
    if contract_file:
        overrides["contract_file"] = contract_file
    config: SmokeConfig | None
    if environment == SANDBOX:
        config = _sandbox_shape().model_copy(update=_without_name(overrides))
    elif overrides.get("base_url") or dotenv_has_base_url():
        config = SmokeConfig(name=environment).model_copy(update=_without_name(overrides))
    else:
        config = None
    checked = config or SmokeConfig(name=environment).model_copy(update=_without_name(overrides))
    checked.validate_for_run(partial=config is None)
    suite = load_spec(checked.contract_file, checked.journeys or None)
    return Validated(environment=environment, config=config, suite=suite)


def describe(validated: Validated) -> list[str]:
    """Lines for ``smoke validate``: what was checked and which checks are on."""
    config, suite = validated.config, validated.suite
    lines = [f"OK: environment {validated.environment!r}"]
    if config is None:
        lines.append(
            "  its SmokeEnvironment block is read (and checked again) when a run starts; "
            "SMOKE_* overrides and the contract are valid"
        )
    else:
        where = "the local sandbox" if validated.environment == SANDBOX else config.base_url
        mode = "production, read-only" if not config.writes_allowed else "writes allowed"
        lines.append(f"  target: {where} ({mode})")
        lines.append(
            f"  contract: default{' + ' + config.contract_file if config.contract_file else ''}"
        )
    if suite is None:
        return lines
    for journey in (PREFLIGHT, *JOURNEYS):
        part = suite.journey(journey)
        steps = [s.name for s in part.steps] if isinstance(part, OnboardingSpec) else []
        endpoints = [e.name for e in part.endpoints] if isinstance(part, DashboardSpec) else []
        names = catalog.names_for(journey, steps, endpoints)
        off = [n for n in names if not part.options(n).enabled]
        if not part.enabled:
            lines.append(f"  {journey}: disabled")
            continue
        on = len(names) - len(off)
        lines.append(
            f"  {journey}: {on} of {len(names)} checks on"
            + (f" (off: {', '.join(off)})" if off else "")
        )
    return lines


def _sandbox_shape() -> SmokeConfig:
    """The sandbox's configuration before it starts (its URL is not known yet)."""
    return SmokeConfig(
        name=SANDBOX,
        base_url="http://localhost",
        stripe_secret_key=SecretStr("sk_test_sandbox"),
    )


def _without_name(overrides: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in overrides.items() if k != "name"}


def cmd_validate(environment: str, contract_file: str | None) -> int:
    """``smoke validate``: exit 0 with a summary, or 2 with what is wrong (raised)."""
    for line in describe(validate_locally(environment, contract_file)):
        print(line)
    return 0
