"""The SQLite store: one file, one short connection per operation, writers serialised."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY,
    login_id TEXT NOT NULL UNIQUE,
    pw_hash TEXT NOT NULL,
    address TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until REAL,
    pending_secret TEXT
);
CREATE TABLE IF NOT EXISTS app (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES account(id),
    secret TEXT NOT NULL,
    last_step INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS code (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES account(id),
    purpose TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash TEXT NOT NULL,
    issued REAL NOT NULL,
    target TEXT,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pending_reset (
    account_id INTEGER PRIMARY KEY REFERENCES account(id),
    session_hash TEXT NOT NULL,
    opened REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS session (
    token_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES account(id),
    stage TEXT NOT NULL,
    created REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trust (
    token_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES account(id),
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pw_failure (
    login_id TEXT NOT NULL,
    lane TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mail_log (
    address TEXT NOT NULL,
    at REAL NOT NULL
);
"""


class Store:
    """Opens connections to the database file; the schema is created on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        with self.read() as db:
            db.executescript(SCHEMA)  # executescript manages its own transaction

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=15, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=15000")
        return db

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads that need no transaction."""
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN IMMEDIATE transaction: check-then-write cannot race another writer."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def meta(self, key: str) -> str | None:
        """A value of the meta table (server key, clock offset, code digits)."""
        with self.read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str | None) -> None:
        """Set or (with None) remove a meta value."""
        with self.write() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
