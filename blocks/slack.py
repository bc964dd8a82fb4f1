"""The SlackTarget block: where and how smoke flows notify people."""

from __future__ import annotations

from typing import ClassVar

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class SlackTarget(Block):
    """A bot token and channel, or an incoming-webhook URL, plus who to mention."""

    _block_type_name: ClassVar[str] = "Slack Target"
    _block_type_slug: ClassVar[str] = "slack-target"
    _description: ClassVar[str] = "Slack destination for smoke-flow incidents and recoveries."

    bot_token: SecretStr | None = Field(
        default=None, description="Bot token (xoxb-...) for chat.postMessage."
    )
    webhook_url: SecretStr | None = Field(
        default=None, description="Incoming-webhook URL, instead of a bot token."
    )
    channel: str | None = Field(
        default=None, description="Channel for the bot token, e.g. #releases."
    )
    mentions: list[str] = Field(
        default_factory=list, description="People or groups to mention, e.g. <!subteam^S123>."
    )
    escalation_mentions: list[str] = Field(
        default_factory=list, description="Mentioned after several consecutive failed runs."
    )
    api_url: str | None = Field(
        default=None, description="Slack Web API base URL (tests use a local server)."
    )
