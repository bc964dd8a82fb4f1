"""Slack test values and an in-memory alert store, shared by the Slack tests."""

from __future__ import annotations

from smoke.incidents import AlertState

BOT_TOKEN = "xoxb-4242-test-bot-token"
CHANNEL = "#smoke-alerts"


class MemoryAlertStore:
    """The alert state in a dict: the policy end to end without a Prefect server."""

    def __init__(self) -> None:
        self.states: dict[str, AlertState] = {}
        self.saves = 0

    async def load(self, environment: str) -> AlertState:
        return self.states.get(environment, AlertState())

    async def save(self, environment: str, state: AlertState) -> None:
        self.states[environment] = state
        self.saves += 1
