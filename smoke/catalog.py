"""Every check the suite has, declared once: journey, name, what it proves, whether it writes.

Contract ``checks:`` keys and the journeys' ``@check`` tasks are validated against
this catalogue, so a misspelt check name is an error that suggests the closest one,
never a switch that silently does nothing. Two journeys name checks after their
contract: onboarding has ``step.<name>`` per step, the dashboard one check per endpoint.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Per = Literal["step", "endpoint"]
# The journeys that run setup, refusal checks and teardown (the preflight does not).
JOURNEYS = ("auth", "onboarding", "billing", "dashboard")


@dataclass(frozen=True)
class CheckDef:
    """One check: where it belongs and what its name promises."""

    journey: str
    name: str
    promise: str
    writes: bool = False
    # Checks named after the contract: one per onboarding step or dashboard endpoint.
    per: Per | None = None
    # Checks of the same journey that must run with it (``--check`` brings them): what it
    # needs first, the positive twin that keeps a refusal from passing vacuously, or
    # the cleanup of what it creates. ``step`` means every onboarding step.
    needs: tuple[str, ...] = ()
    # Parts of the journey's contract it tests (fields or properties of its spec); unset,
    # the check is not applicable.
    requires: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.journey}.{self.name}"


# What the billing checks after the interlock all need first.
_PAID = ("test_mode_interlock", "cleanup_before")

CATALOG: tuple[CheckDef, ...] = (
    CheckDef("preflight", "health", "the health endpoint answers and says healthy"),
    CheckDef("preflight", "version", "the deployed version is the one being released"),
    CheckDef(
        "preflight",
        "stripe_test_mode",
        "the target reports Stripe test mode",
        requires=("e2e_status",),
    ),
    CheckDef(
        "preflight",
        "e2e_token_required",
        "the e2e endpoints refuse callers without the token",
        requires=("e2e_status",),
    ),
    CheckDef("auth", "password_login", "the test identity gets a token through the login request"),
    CheckDef(
        "auth",
        "me_identity",
        "the session reaches the identity endpoint as the test identity, of its own tenant",
        needs=("password_login",),
    ),
    CheckDef(
        "auth",
        "tenant_isolation",
        "the test identity cannot read another tenant's resource, nor see it in its own",
        needs=("password_login",),
        requires=("tenant_isolation",),
    ),
    CheckDef(
        "auth",
        "browser_login",
        "a person signs in through the identity provider and back",
        requires=("browser_login",),
    ),
    CheckDef(
        "auth",
        "wrong_password_refused",
        "a wrong password gets no token and no session, by API or in the login form",
        # The positive twins: the right password works by the same routes in this run.
        needs=("password_login", "browser_login"),
    ),
    CheckDef(
        "auth",
        "sign_out_ends_session",
        "signing out in the browser ends the page's session",
        needs=("browser_login",),
        requires=("browser_login", "sign_out"),
    ),
    CheckDef(
        "auth",
        "forged_state_rejected",
        "a callback with a forged state is refused, with or without the state cookie",
        requires=("browser_login", "forged_state"),
    ),
    CheckDef(
        "auth",
        "foreign_redirect_refused",
        "the identity provider refuses the login's authorize request with a redirect URI "
        "on a foreign host",
        # Its positive twin: the same authorize request with the app's own redirect URI
        # shows the sign-in form, in the same attempt, after the browser login worked.
        needs=("browser_login",),
        requires=("browser_login", "foreign_redirect"),
    ),
    CheckDef(
        "auth",
        "discovery_endpoints",
        "the OpenID discovery document names the endpoints the identity provider answers on",
        # Its token endpoint signs in by the login request that password_login proves.
        needs=("password_login",),
        requires=("discovery",),
    ),
    CheckDef(
        "auth",
        "passkey_login",
        "a passkey registers and signs in",
        writes=True,
        needs=("password_login",),
        requires=("passkey",),
    ),
    CheckDef(
        "onboarding",
        "cleanup_before",
        "the test identity's earlier data is gone",
        writes=True,
        requires=("cleanup",),
    ),
    CheckDef(
        "onboarding",
        "step",
        "each step answers its contract and feeds the next",
        writes=True,
        per="step",
        # A step also needs the steps before it (their saved values): see smoke/selection.py.
        needs=("cleanup_before",),
    ),
    CheckDef(
        "onboarding",
        "preview_matches",
        "the preview shows what was submitted",
        writes=True,
        needs=("cleanup_before", "step"),
        requires=("preview",),
    ),
    CheckDef(
        "onboarding",
        "welcome_email",
        "the welcome email reaches the new user",
        writes=True,
        needs=("cleanup_before", "step"),
        requires=("welcome_email",),
    ),
    CheckDef(
        "onboarding",
        "negative_cases_refused",
        "each step refuses its negative cases: another step's token, another identity's ids",
        writes=True,
        # Its positive twins: every step answered its right input first.
        needs=("cleanup_before", "step"),
        requires=("negative_cases",),
    ),
    CheckDef(
        "onboarding",
        "cleanup_frees_identity",
        "the cleanup removes the chain's account: the reserved identity can sign up again",
        writes=True,
        needs=("cleanup_before", "step"),
        requires=("cleanup", "cleanup_probe"),
    ),
    CheckDef(
        "onboarding",
        "cleanup_refuses_unreserved",
        "the cleanup refuses an address outside the reserved identities",
        writes=True,
        # Its positive twin: the same cleanup shown to work for the reserved identity.
        needs=("cleanup_before", "step", "cleanup_frees_identity"),
        requires=("cleanup", "cleanup_probe", "cleanup_refusal"),
    ),
    CheckDef("billing", "test_mode_interlock", "Stripe is in test mode before anything is paid"),
    CheckDef(
        "billing",
        "plans_listed",
        "the plans answer their contract, each with a price, the plan bought among them",
        needs=("test_mode_interlock",),
        requires=("plans",),
    ),
    CheckDef(
        "billing",
        "cleanup_before",
        "no subscription is left from an earlier run",
        writes=True,
        needs=("test_mode_interlock",),
        requires=("cleanup",),
    ),
    CheckDef(
        "billing",
        "cancel_returns_unchanged",
        "cancelling checkout changes nothing, and its page names the plan kept",
        writes=True,
        needs=_PAID,
    ),
    CheckDef(
        "billing",
        "declined_card",
        "a declined card gives an error and no subscription",
        writes=True,
        # Its positive twin: a checkout that refused every card would pass it alone.
        needs=(*_PAID, "checkout_success"),
    ),
    CheckDef(
        "billing",
        "checkout_success",
        "the checkout page shows the plan's price, and a test card pays it",
        writes=True,
        # The plans state the price it judges; the subscription it creates is cancelled
        # afterwards, never left running.
        needs=(*_PAID, "plans_listed", "subscription_active", "subscription_cancelled"),
    ),
    CheckDef(
        "billing",
        "subscription_active",
        "the webhook activates the subscription, with the plan bought provisioned",
        writes=True,
        needs=(*_PAID, "checkout_success"),
    ),
    CheckDef(
        "billing",
        "unsigned_webhook_rejected",
        "an unsigned webhook is refused",
        writes=True,
        needs=_PAID,
    ),
    CheckDef(
        "billing",
        "subscription_cancelled",
        "the test subscription is cancelled",
        writes=True,
        # Without a subscription to cancel it would pass vacuously.
        needs=(*_PAID, "checkout_success", "subscription_active"),
    ),
    CheckDef(
        "billing",
        "confirm_again_refused",
        "a paid checkout confirmed a second time is refused and subscribes nobody twice",
        writes=True,
        # Its positive twin is the paid checkout whose confirmation it replays; what a
        # broken app subscribes twice is cancelled by it and subscription_cancelled.
        needs=(*_PAID, "checkout_success", "subscription_cancelled"),
        requires=("confirm_again",),
    ),
    CheckDef(
        "billing",
        "stripe_cancellation_synced",
        "a subscription cancelled in Stripe turns inactive in the app",
        writes=True,
        # It buys its own subscription and cancels it in Stripe: nothing is left running.
        needs=_PAID,
    ),
    CheckDef(
        "dashboard",
        "endpoint",
        "the endpoint answers its contract, within budget, non-empty, in order and paged as asked",
        per="endpoint",
    ),
    CheckDef(
        "dashboard",
        "tenant_isolation",
        "each tenant gets items of its own from every tenant-scoped endpoint, none shared",
        requires=("tenant_scoped",),
    ),
    CheckDef(
        "dashboard",
        "ui",
        "the page renders its key elements, showing what they must, with no errors",
        requires=("ui",),
    ),
    *(
        check
        for journey in JOURNEYS
        for check in (
            CheckDef(
                journey,
                "setup",
                "the contract's setup requests answer",
                writes=True,
                requires=("setup",),
            ),
            CheckDef(
                journey,
                "anonymous_refused",
                "every route an identity got a 2xx for refuses callers without credentials",
            ),
            CheckDef(
                journey,
                "bad_token_refused",
                "every route an identity got a 2xx for refuses its credential tampered",
            ),
            CheckDef(
                journey,
                "teardown",
                "what this run created is removed, nothing else",
                writes=True,
                requires=("teardown",),
            ),
        )
    ),
)
# Checks every journey runs around its own (tasks/sequences.py: journey_frame).
FRAME = ("setup", "teardown")
# Replays of what the journey's other checks reached: alone they would prove nothing.
REFUSALS = ("anonymous_refused", "bad_token_refused")


def find(journey: str, name: str) -> CheckDef:
    """The declared check ``journey.name``; KeyError when it is not in the catalogue."""
    for check in CATALOG:
        if check.journey == journey and check.name == name:
            return check
    raise KeyError(f"{journey}.{name}")


def names_for(journey: str, steps: Iterable[str] = (), endpoints: Iterable[str] = ()) -> list[str]:
    """The check names a journey has with this contract's steps and endpoints."""
    names: list[str] = []
    for check in CATALOG:
        if check.journey != journey:
            continue
        if check.per == "step":
            names += [f"step.{s}" for s in steps]
        elif check.per == "endpoint":
            names += list(endpoints)
        else:
            names.append(check.name)
    return names


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` was most likely meant to be, if any is close."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None
