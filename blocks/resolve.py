"""Which configuration ``--env NAME`` means, and where a run keeps its evidence.

Order: an environment this process set up itself (the local sandbox); else the
``SmokeEnvironment`` block ``NAME`` when a Prefect API is configured and the block
exists; else SMOKE_* variables. SMOKE_* variables override any of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

from blocks.environment import SmokeEnvironment
from smoke.config import SmokeConfig, apply_env_overrides, from_env, register_secrets
from smoke.errors import ConfigError, SmokeSystemError
from smoke.spec import SuiteSpec, load_spec

EVIDENCE_ENV = "SMOKE_EVIDENCE_DIR"

_local: dict[str, SmokeConfig] = {}


def register_local_environment(config: SmokeConfig) -> None:
    """Make ``config`` what its name resolves to in this process (e.g. a started sandbox)."""
    register_secrets(config)
    _local[config.name] = config


def forget_local_environment(name: str) -> None:
    """Undo ``register_local_environment``."""
    _local.pop(name, None)


def prefect_api_configured() -> bool:
    """True when PREFECT_API_URL points at a server (not Prefect's ephemeral mode)."""
    return bool(PREFECT_API_URL.value())


async def load_block(name: str) -> SmokeConfig | None:
    """The SmokeEnvironment block ``name`` from the configured Prefect API, if it exists."""
    if not prefect_api_configured():
        return None
    try:
        block = await SmokeEnvironment.aload(name)
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
        elif os.environ.get("SMOKE_BASE_URL") or _dotenv_has_base_url():
            config = from_env(name)
        else:
            where = (
                f"no SmokeEnvironment block {name!r} on the Prefect API at {PREFECT_API_URL.value()}"
                if prefect_api_configured()
                else "no Prefect API configured (PREFECT_API_URL) to load a block from"
            )
            raise ConfigError(
                f"Unknown environment {name!r}: {where}, and SMOKE_BASE_URL is not set. "
                f"Use --env sandbox for the local sandbox, push a block with "
                f"`smoke blocks push --env {name}`, or set SMOKE_BASE_URL and friends."
            )
    config.validate_for_run()
    return config


def _dotenv_has_base_url() -> bool:
    env_file = Path(".env")
    return env_file.is_file() and any(
        line.strip().startswith("SMOKE_BASE_URL=") for line in env_file.read_text().splitlines()
    )


def suite_spec(config: SmokeConfig) -> SuiteSpec:
    """The journeys' specification for ``config`` (default contract plus overrides)."""
    return load_spec(config.contract_file, config.journeys)


def evidence_root() -> Path:
    """Where browser evidence goes: SMOKE_EVIDENCE_DIR, else ./smoke-report/evidence."""
    root = Path(os.environ.get(EVIDENCE_ENV) or "smoke-report/evidence").resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root
