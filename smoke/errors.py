"""The exceptions of smoke flows, and the exit code each maps to.

SmokeError                  base; never raised itself
├── ConfigError             exit 2: bad or missing configuration, usage errors
│   ├── LiveStripeKeyError  exit 2: a Stripe key that is not a test key
│   └── PreconditionError   in a check: what it must prove first does not hold (an error result)
└── SmokeSystemError        exit 3: the smoke system could not run (Prefect, deadline, crash)

Interrupted (a BaseException, like KeyboardInterrupt): a signal asked the command to
stop; exit 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import signal


class SmokeError(Exception):
    """Base of every error smoke flows raises on purpose."""

    exit_code = 3


class ConfigError(SmokeError):
    """The configuration or the command line is wrong; the message says how to fix it."""

    exit_code = 2


class LiveStripeKeyError(ConfigError):
    """A Stripe key that is not a test-mode key; refused before any network call."""


class PreconditionError(ConfigError):
    """A check could not establish what it must prove first (the other tenant's resource
    readable by its owner, the e2e API answering its token): it cannot judge, so its
    result is an error, never a pass. Most often the contract names the wrong thing."""


class SmokeSystemError(SmokeError):
    """The smoke system itself failed: Prefect unreachable, run crashed, deadline passed."""

    exit_code = 3


class Interrupted(BaseException):  # like KeyboardInterrupt: not an error
    """A signal asked the command to stop; raised where the main thread waits."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"cancelled by signal {self.name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
