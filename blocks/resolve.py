"""Which configuration ``--env NAME`` means, and where a run keeps its evidence.

Order: an environment this process set up itself (the local sandbox); else the
``SmokeEnvironment`` block ``NAME`` when a Prefect API is configured and the block
exists; else SMOKE_* variables. SMOKE_* variables override any of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

from blocks.environment import SmokeEnvironment
from blocks.prefect_api import check_prefect_api, prefect_api_configured
from blocks.slack import SlackTarget
from smoke.config import (
    SmokeConfig,
    apply_env_overrides,
    dotenv_has_base_url,
    from_env,
    register_secrets,
    unknown_environment,
)
from smoke.errors import ConfigError, SmokeSystemError
from smoke.scrub import scrubber
from smoke.spec import SuiteSpec, load_spec

EVIDENCE_ENV = "SMOKE_EVIDENCE_DIR"

_local: dict[str, SmokeConfig] = {}


def register_local_environment(config: SmokeConfig) -> None:
    """Make ``config`` what its name resolves to in this process (e.g. a started sandbox)."""
    register_secrets(config)
    _local[config.name] = config


def known_here(name: str) -> bool:
    """True when this process set ``name`` up itself, or a gate carries it to its journeys."""
    return name in _local or name in (_carried.get() or {})


def forget_local_environment(name: str) -> None:
    """Undo ``register_local_environment``."""
    _local.pop(name, None)


async def load_block(name: str) -> SmokeConfig | None:
    """The SmokeEnvironment block ``name`` from the configured Prefect API, if it exists."""
    if not prefect_api_configured():
        return None
    await check_prefect_api()
    try:
        block: SmokeEnvironment = await SmokeEnvironment.aload(name)
    except (ValueError, ObjectNotFound):
        return None
    except Exception as e:
        raise SmokeSystemError(
            f"Cannot read block smoke-environment/{name} from the Prefect API at "
            f"{PREFECT_API_URL.value()}: {type(e).__name__}: {e}. Is the server running?"
        ) from e
    return block.to_config(name)


async def resolve_environment(name: str) -> SmokeConfig:
    """The validated configuration of environment ``name``; ConfigError says how to fix it."""
    if name in _local:
        config = apply_env_overrides(_local[name])
    else:
        found = await load_block(name)
        if found is not None:
            config = apply_env_overrides(found)
        elif os.environ.get("SMOKE_BASE_URL") or dotenv_has_base_url():
            config = from_env(name)
        else:
            where = (
                f"no SmokeEnvironment block {name!r} on the Prefect API at {PREFECT_API_URL.value()}"
                if prefect_api_configured()
                else "no Prefect API configured (PREFECT_API_URL) to load a block from"
            )
            raise unknown_environment(name, where)
    config.validate_for_run()
    return config


async def notification_sources(name: str) -> tuple[SmokeConfig, SlackTarget | None]:
    """Environment ``name``'s configuration, not validated, and its SlackTarget block.

    Not validated: a gate that failed on its configuration must still be able to say so
    on Slack. The block is looked up only when ``slack_target`` names one and a Prefect
    API is configured; a named block that does not exist is a ConfigError.
    """
    base = _local.get(name) or await load_block(name) or SmokeConfig(name=name)
    config = apply_env_overrides(base)
    if not config.slack_target or not prefect_api_configured():
        return config, None
    try:
        target: SlackTarget = await SlackTarget.aload(config.slack_target)
    except (ValueError, ObjectNotFound) as e:
        raise ConfigError(
            f"Environment {name!r} names the SlackTarget block {config.slack_target!r}, but the "
            f"Prefect API at {PREFECT_API_URL.value()} has no such block. Create it in the UI "
            "(Blocks, Slack Target) or unset slack_target."
        ) from e
    except Exception as e:
        raise SmokeSystemError(
            f"Cannot read block slack-target/{config.slack_target} from the Prefect API at "
            f"{PREFECT_API_URL.value()}: {type(e).__name__}: {e}. Is the server running?"
        ) from e
    secrets = (target.bot_token, target.webhook_url)
    scrubber.register(*(s.get_secret_value() for s in secrets if s is not None))
    return config, target


# Environments a gate resolved once for its whole run, carried to its journeys.
_carried: ContextVar[dict[str, tuple[SmokeConfig, SuiteSpec]] | None] = ContextVar(
    "smoke_resolved", default=None
)


@contextmanager
def carried(environment: str, config: SmokeConfig, suite: SuiteSpec) -> Iterator[None]:
    """Within the block (and the subflows it starts), ``environment`` means this."""
    current = _carried.get() or {}
    token = _carried.set({**current, environment: (config, suite)})
    try:
        yield
    finally:
        _carried.reset(token)


async def resolved(environment: str) -> tuple[SmokeConfig, SuiteSpec]:
    """The configuration and contract of ``environment``: carried by the gate, else resolved."""
    found = (_carried.get() or {}).get(environment)
    if found is not None:
        return found
    config = await resolve_environment(environment)
    return config, suite_spec(config)


def suite_spec(config: SmokeConfig) -> SuiteSpec:
    """The journeys' specification for ``config`` (default contract plus overrides)."""
    return load_spec(config.contract_file, config.journeys)


# The folder a command's runs write evidence to (the CLI's report folder), carried to the
# journeys like the resolved environment rather than through the process environment.
_evidence_folder: ContextVar[Path | None] = ContextVar("smoke_evidence_folder", default=None)


@contextmanager
def evidence_folder(path: Path) -> Iterator[None]:
    """Journeys started inside the block write their evidence files under ``path``."""
    token = _evidence_folder.set(path.resolve())
    try:
        yield
    finally:
        _evidence_folder.reset(token)


def evidence_root() -> Path:
    """The evidence folder: the carried one, else SMOKE_EVIDENCE_DIR, else ./smoke-report/evidence."""
    carried = _evidence_folder.get()
    root = carried or Path(os.environ.get(EVIDENCE_ENV) or "smoke-report/evidence").resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root
