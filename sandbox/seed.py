"""Seed data: the reserved identities, tenants and per-tenant dashboard records.

Every id is derived from (tier, tenant, kind, index) and rows go in with
``INSERT OR IGNORE``, so seeding a tier twice changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sandbox.credentials import SandboxCredentials
from sandbox.db import Database, Transaction
from sandbox.security import hash_password

TEST_TENANT_ID = "acme-test"
OTHER_TENANT_ID = "globex"
TEST_USER_ID = "usr_smoke_test"
OTHER_USER_ID = "usr_globex_ops"

FEED_TYPES = ("deploy", "signup", "invoice", "comment", "incident")
SEVERITIES = ("info", "warning", "critical")
METRICS = ("active_users", "revenue")


@dataclass(frozen=True)
class TierShape:
    """How many tenants a tier spans and how many records each tenant gets."""

    tenants: int
    feed: int
    alerts: int
    history_points: int  # per metric
    history_step_days: int
    feed_step_hours: int
    alert_step_days: int


TIERS: dict[str, TierShape] = {
    # A month of recent activity for the two smoke tenants.
    "smoke": TierShape(
        2,
        feed=30,
        alerts=10,
        history_points=30,
        history_step_days=1,
        feed_step_hours=24,
        alert_step_days=3,
    ),
    "dev": TierShape(
        10,
        feed=30,
        alerts=10,
        history_points=30,
        history_step_days=1,
        feed_step_hours=24,
        alert_step_days=3,
    ),
    # 100 tenants x 520 records = 52,000 records spread over 24 months.
    "perf": TierShape(
        100,
        feed=240,
        alerts=72,
        history_points=104,
        history_step_days=7,
        feed_step_hours=73,
        alert_step_days=10,
    ),
}


@dataclass(frozen=True)
class SeedResult:
    tier: str
    tenants: int
    records: int


def tenant_rows(tier: str) -> list[tuple[str, str, str, str]]:
    """(id, name, plan, tier) for every tenant of ``tier``; the tiers nest."""
    count = TIERS[tier].tenants
    rows = [
        (TEST_TENANT_ID, "Acme Test", "free", "smoke"),
        (OTHER_TENANT_ID, "Globex", "team-monthly", "smoke"),
    ]
    for n in range(3, min(count, 10) + 1):
        rows.append((f"dev-tenant-{n:02d}", f"Dev Tenant {n:02d}", "free", "dev"))
    for n in range(11, count + 1):
        rows.append((f"perf-tenant-{n:03d}", f"Perf Tenant {n:03d}", "pro-monthly", "perf"))
    return rows[:count]


def seed_identities(db: Database, credentials: SandboxCredentials) -> None:
    """The two smoke tenants and their users: the test identity and the other tenant's."""
    now = datetime.now(UTC).isoformat()
    with db.transaction() as tx:
        tx.executemany("INSERT OR IGNORE INTO tenants VALUES (?, ?, ?, ?)", tenant_rows("smoke"))
        users = [
            (
                TEST_USER_ID,
                credentials.test_email,
                credentials.test_password,
                "Smoke Tester",
                TEST_TENANT_ID,
            ),
            (
                OTHER_USER_ID,
                credentials.other_email,
                credentials.other_password,
                "Globex Ops",
                OTHER_TENANT_ID,
            ),
        ]
        for user_id, email, password, name, tenant_id in users:
            tx.execute(
                "INSERT OR IGNORE INTO users (id, email, password_hash, name, tenant_id, verified,"
                " source, created_at) VALUES (?, ?, ?, ?, ?, 1, 'seed', ?)",
                (user_id, email, hash_password(password), name, tenant_id, now),
            )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _records(
    tier: str, tenant_id: str, tenant_name: str, today: date
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(table, row) pairs for one tenant of one tier, newest first."""
    shape = TIERS[tier]
    rng = random.Random(f"{tier}/{tenant_id}")
    noon = datetime.combine(today, time(12, 0), tzinfo=UTC)
    for i in range(shape.feed):
        kind = FEED_TYPES[rng.randrange(len(FEED_TYPES))]
        created = noon - timedelta(hours=shape.feed_step_hours * i, minutes=rng.randrange(60))
        yield (
            "feed",
            (
                f"feed-{tier}-{tenant_id}-{i:04d}",
                tenant_id,
                kind,
                f"{kind.title()} #{shape.feed - i} at {tenant_name}",
                _iso(created),
            ),
        )
    for i in range(shape.alerts):
        severity = SEVERITIES[rng.randrange(len(SEVERITIES))]
        created = noon - timedelta(days=shape.alert_step_days * i, minutes=rng.randrange(600))
        yield (
            "alerts",
            (
                f"alert-{tier}-{tenant_id}-{i:04d}",
                tenant_id,
                severity,
                f"{severity.title()}: check #{shape.alerts - i} for {tenant_name}",
                1 if i >= 3 else 0,
                _iso(created),
            ),
        )
    for metric in METRICS:
        base = 100.0 if metric == "active_users" else 2500.0
        for i in range(shape.history_points):
            day = today - timedelta(days=shape.history_step_days * i)
            value = round(
                base * (1 + 0.25 * rng.random()) * (1 - i / (4 * shape.history_points)), 2
            )
            yield (
                "history",
                (
                    f"hist-{tier}-{tenant_id}-{metric}-{i:04d}",
                    tenant_id,
                    day.isoformat(),
                    metric,
                    value,
                ),
            )


_INSERTS = {
    "feed": "INSERT OR IGNORE INTO feed_items VALUES (?, ?, ?, ?, ?)",
    "alerts": "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?)",
    "history": "INSERT OR IGNORE INTO history VALUES (?, ?, ?, ?, ?)",
}
_ID_PREFIX = {
    "feed": ("feed_items", "feed"),
    "alerts": ("alerts", "alert"),
    "history": ("history", "hist"),
}


def _count_tier_records(tx: Transaction, tier: str) -> int:
    total = 0
    for table, prefix in _ID_PREFIX.values():
        # A range on the primary key: uses the index, unlike LIKE.
        low, high = f"{prefix}-{tier}-", f"{prefix}-{tier}."
        rows = tx.query(f"SELECT count(*) FROM {table} WHERE id >= ? AND id < ?", (low, high))
        total += int(rows[0][0])
    return total


def seed_tier(db: Database, tier: str, today: date | None = None) -> SeedResult:
    """Insert ``tier``'s tenants and records (idempotent) in one transaction."""
    if tier not in TIERS:
        raise ValueError(f"Unknown seed tier {tier!r}. Valid tiers: {', '.join(TIERS)}.")
    today = today or datetime.now(UTC).date()
    tenants = tenant_rows(tier)
    batches: dict[str, list[tuple[Any, ...]]] = {"feed": [], "alerts": [], "history": []}
    for tenant_id, name, _plan, _tier in tenants:
        for table, row in _records(tier, tenant_id, name, today):
            batches[table].append(row)
    with db.transaction() as tx:
        tx.executemany("INSERT OR IGNORE INTO tenants VALUES (?, ?, ?, ?)", tenants)
        for table, rows in batches.items():
            tx.executemany(_INSERTS[table], rows)
        records = _count_tier_records(tx, tier)
    return SeedResult(tier=tier, tenants=len(tenants), records=records)
