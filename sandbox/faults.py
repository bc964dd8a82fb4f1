"""Named faults: each one breaks exactly one thing in the sandbox.

The tests and the demo turn them on (``--fault NAME`` at start, or ``POST /e2e/faults``
at runtime) to prove that every smoke journey catches what it claims to catch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

FAULTS: dict[str, str] = {
    "health.down": "/health answers 503 with the database down",
    "version.stale": "/health reports the previous version instead of --version",
    "auth.bypass": "the dashboard API answers anonymous callers",
    "auth.bad_token_accepted": "a bearer token with a bad signature is accepted",
    "auth.forged_state_accepted": "the login callback accepts any state",
    "auth.login_broken": "the identity provider rejects valid credentials",
    "auth.tenant_leak": "a token of one tenant reads another tenant's data",
    "auth.passkey_broken": "passkey login verification always fails",
    "onboarding.chain_broken": "the workspace step (a middle step) answers 500",
    "onboarding.preview_drift": "the preview misses the submitted use_case",
    "onboarding.email_missing": "the welcome email is never sent",
    "billing.webhook_unsigned_accepted": "the webhook endpoint accepts unsigned events",
    "billing.webhook_dropped": (
        "webhooks are acknowledged but never processed: the subscription never activates"
    ),
    "billing.decline_accepted": (
        "a declined card is reported as success and a subscription is provisioned"
    ),
    "billing.cancel_broken": "the checkout cancel URL answers 500",
    "billing.live_mode": "the e2e status reports a live Stripe key",
    "dashboard.feed_500": "the feed API answers 500",
    "dashboard.alerts_contract_drift": "alerts' severity becomes an integer",
    "dashboard.empty": "the feed is empty for every tenant",
    "dashboard.ui_js_error": "the dashboard page throws a JavaScript error",
    "dashboard.ui_failed_request": "the dashboard page requests a script that answers 404",
    "dashboard.slow": "the feed API answers after 3 s",
    "e2e.token_ignored": "the e2e API accepts callers without the token",
    "transient.http_503": (
        "about one request in three on /api/ paths answers 503 (never two in a row)"
    ),
    "transient.slow_start": "the first request of each kind (method and route) takes 2 s",
}


def check_fault_name(name: str) -> str:
    """Return ``name`` if it is a known fault, else raise ValueError listing the valid ones."""
    if name not in FAULTS:
        raise ValueError(f"Unknown fault {name!r}. Valid faults: {', '.join(FAULTS)}.")
    return name


class FaultSet:
    """The faults enabled right now; safe to read and toggle from any thread."""

    def __init__(self, enabled: Iterable[str] = ()) -> None:
        names = [check_fault_name(name) for name in enabled]
        self._lock = threading.Lock()
        self._enabled: set[str] = set(names)
        # Bumped whenever a fault goes from off to on; stateful faults (transient.*)
        # key their counters on it so each activation starts afresh.
        self._activations = 0
        self._activated_at: dict[str, int] = {name: 0 for name in names}

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._enabled

    def is_enabled(self, name: str) -> bool:
        """True when the fault ``name`` (which must exist) is on."""
        check_fault_name(name)
        return name in self

    def set(self, name: str, enabled: bool) -> bool:
        """Turn ``name`` on or off; return True when that changed anything."""
        check_fault_name(name)
        with self._lock:
            before = name in self._enabled
            if enabled and not before:
                self._activations += 1
                self._activated_at[name] = self._activations
                self._enabled.add(name)
            elif not enabled:
                self._enabled.discard(name)
            return before != enabled

    def clear(self) -> None:
        """Turn every fault off."""
        with self._lock:
            self._enabled.clear()

    def enabled(self) -> list[str]:
        """The names that are on, in the order of ``FAULTS``."""
        with self._lock:
            return [name for name in FAULTS if name in self._enabled]

    def activation(self, name: str) -> int | None:
        """None when ``name`` is off, else a number that changes each time it is turned on."""
        with self._lock:
            return self._activated_at.get(name) if name in self._enabled else None

    def __repr__(self) -> str:
        return f"FaultSet({self.enabled()!r})"
