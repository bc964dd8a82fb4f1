"""Cleanup of the reserved test identities' data, and of nothing else."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import stripe

from sandbox.context import SandboxContext
from sandbox.security import is_reserved_identity

logger = logging.getLogger(__name__)


@dataclass
class CleanupResult:
    deleted: dict[str, int] = field(default_factory=dict)
    canceled_subscriptions: int = 0


# Child tables first: foreign keys point at users and workspaces.
_OWNED_TABLES = (
    ("previews", "previews"),
    ("profiles", "profiles"),
    ("workspaces", "workspaces"),
    ("onboarding_tokens", "onboarding_tokens"),
    ("passkeys", "passkeys"),
    ("checkout_sessions", "checkout_sessions"),
    ("subscriptions", "subscriptions"),
)


def clean_reserved_identities(
    sandbox: SandboxContext, only_email: str | None = None
) -> CleanupResult:
    """Delete what the reserved identities own (or just ``only_email``'s); cancel their
    Stripe subscriptions.

    Who is reserved is decided in Python by ``is_reserved_identity`` for each user,
    never by a SQL pattern, so a broad LIKE cannot sweep up somebody else's rows.
    The test identity itself (and its tenant) stays: only what it created goes.
    """
    credentials = sandbox.credentials
    if only_email is not None and not is_reserved_identity(only_email, credentials):
        raise ValueError(
            f"{only_email!r} is not a reserved test identity: cleanup only touches "
            f"{credentials.test_email} and smoke+<anything>@sandbox.test"
        )

    def in_scope(email: str) -> bool:
        if only_email is not None:
            return email.strip().lower() == only_email.strip().lower()
        return is_reserved_identity(email, credentials)

    users = sandbox.db.query("SELECT id, email, source FROM users")
    reserved = [row for row in users if in_scope(row["email"])]
    reserved_ids = [row["id"] for row in reserved]
    result = CleanupResult()

    subscriptions = (
        sandbox.db.query(
            f"SELECT stripe_subscription_id FROM subscriptions WHERE user_id IN "
            f"({','.join('?' * len(reserved_ids))}) AND status != 'canceled'"
            " AND stripe_subscription_id IS NOT NULL",
            reserved_ids,
        )
        if reserved_ids
        else []
    )
    for row in subscriptions:
        try:
            sandbox.stripe.cancel_subscription(row["stripe_subscription_id"])
            result.canceled_subscriptions += 1
        except stripe.StripeError as exc:
            logger.warning("could not cancel a test subscription: %s", exc)

    with sandbox.db.transaction() as tx:
        for kind, table in _OWNED_TABLES:
            count = 0
            for user_id in reserved_ids:
                count += tx.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
            result.deleted[kind] = count
        # Accounts created by signing up go; seeded identities (the test user) stay.
        removable = [row["id"] for row in reserved if row["source"] == "onboarding"]
        result.deleted["users"] = sum(
            tx.execute("DELETE FROM users WHERE id = ?", (user_id,)) for user_id in removable
        )
    result.deleted["inbox_messages"] = sandbox.mail.inbox.delete_where(
        lambda message: in_scope(message.to)
    )
    return result
