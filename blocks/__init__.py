"""Prefect block types of smoke flows."""

from blocks.environment import SmokeEnvironment
from blocks.slack import SlackTarget

__all__ = ["SlackTarget", "SmokeEnvironment"]
