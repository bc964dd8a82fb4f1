"""``smoke blocks register|push``: the block types and environment documents on a Prefect API."""

from __future__ import annotations

from pydantic import SecretStr

from blocks import SlackTarget, SmokeEnvironment
from blocks.prefect_api import register_block_types, require_api
from smoke.config import from_env


def register() -> int:
    """Register SmokeEnvironment and SlackTarget with the Prefect API (idempotent)."""
    require_api()
    for slug in register_block_types():
        print(f"registered block type {slug}")
    return 0


def push(name: str) -> int:
    """Save the SMOKE_* configuration as SmokeEnvironment ``name`` (and its SlackTarget)."""
    require_api()
    config = from_env(name)
    config.validate_for_run()
    register_block_types()  # here, not inside save(): a concurrent push may race it
    if config.slack_token or config.slack_webhook_url:
        target_name = config.slack_target or f"{name}-slack"
        SlackTarget(
            bot_token=config.slack_token,
            webhook_url=config.slack_webhook_url,
            channel=config.slack_channel,
            mentions=config.slack_mentions,
            api_url=config.slack_api_url,
        ).save(target_name, overwrite=True)
        config = config.model_copy(
            update={"slack_target": target_name, "slack_token": None, "slack_webhook_url": None}
        )
        print(f"saved slack-target/{target_name}")
    SmokeEnvironment.from_config(config).save(name, overwrite=True)
    secrets = [f for f, v in config if isinstance(v, SecretStr)]
    print(f"saved smoke-environment/{name} ({len(secrets)} secret fields stored masked)")
    return 0
