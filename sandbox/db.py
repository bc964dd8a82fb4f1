"""The sandbox's SQLite database: one fresh file per start, one shared connection."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan TEXT NOT NULL,
    tier TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    tenant_id TEXT REFERENCES tenants(id),
    verified INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    stripe_customer_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE onboarding_tokens (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL
);
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    team_size TEXT NOT NULL
);
CREATE TABLE profiles (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    role TEXT NOT NULL,
    use_case TEXT NOT NULL
);
CREATE TABLE previews (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    workspace_id TEXT NOT NULL REFERENCES workspaces(id)
);
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    public_key BLOB NOT NULL,
    sign_count INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE checkout_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    plan_id TEXT NOT NULL,
    setup_intent_id TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE subscriptions (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    plan_id TEXT NOT NULL,
    status TEXT NOT NULL,
    stripe_subscription_id TEXT,
    session_id TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE feed_items (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    type TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX feed_items_by_tenant ON feed_items (tenant_id, created_at);
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    acknowledged INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX alerts_by_tenant ON alerts (tenant_id, created_at);
CREATE TABLE history (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    date TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX history_by_tenant ON history (tenant_id, date);
"""


class Database:
    """One SQLite connection shared by every thread, serialised by a lock.

    The app is small and mostly idle; one connection behind a lock is simpler than a
    pool and cannot deadlock on SQLite's own file locks.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        # isolation_level=None: autocommit, with explicit BEGIN in transaction().
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("PRAGMA foreign_keys=ON")

    @classmethod
    def create(cls, path: Path) -> Database:
        """A new database file at ``path`` with the schema applied."""
        if path.exists():
            path.unlink()
        db = cls(path)
        db._conn.executescript(SCHEMA)
        return db

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one statement and return every row."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """Run one statement and return its first row, if any."""
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self.query_one(sql, params)
        return None if row is None else row[0]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement; return the number of rows it changed."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the lock and one SQLite transaction; commit on success, else roll back."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield Transaction(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            return bool(self.scalar("SELECT 1") == 1)
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class Transaction:
    """The statements available inside ``Database.transaction()``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self._conn.executemany(sql, rows).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()
