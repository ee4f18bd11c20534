"""SQLite store with one column per field; every write runs in a BEGIN IMMEDIATE transaction.

BEGIN IMMEDIATE takes the write lock before the first read, so a check and the update that
depends on it (a code's consumption, a TOTP step) cannot interleave with another request's.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    login_id TEXT NOT NULL UNIQUE,
    password_scheme TEXT NOT NULL,
    password_salt BLOB NOT NULL,
    password_hash BLOB NOT NULL,
    address TEXT,
    failure_count INTEGER NOT NULL DEFAULT 0,
    locked_until REAL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    stage TEXT NOT NULL CHECK (stage IN ('first_factor', 'setup', 'authenticated', 'reset')),
    created_at REAL NOT NULL,
    stage_at REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS app_registrations (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    public_id TEXT NOT NULL UNIQUE,
    secret BLOB NOT NULL,
    last_step INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_secrets (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    secret BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS codes (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('login', 'register', 'reset')),
    code_hash BLOB NOT NULL,
    target_address TEXT,
    origin TEXT NOT NULL CHECK (origin IN ('mail', 'helpdesk')),
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'used', 'void'))
);
CREATE INDEX IF NOT EXISTS codes_by_account ON codes (account_id, purpose, state);
CREATE TABLE IF NOT EXISTS pending_resets (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
    opened_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trusted_browsers (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    granted_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS server_keys (
    name TEXT PRIMARY KEY,
    key BLOB NOT NULL
);
-- §3.1: wrong passwords by login ID (known or not: no account row) and client; §12.4: mails
-- with a code by address, since a code mailed there was last used.
CREATE TABLE IF NOT EXISTS password_failures (
    id INTEGER PRIMARY KEY,
    login_id TEXT NOT NULL,
    client TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS password_failures_by_login ON password_failures (login_id, client, at);
CREATE TABLE IF NOT EXISTS mails_sent (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS mails_sent_by_address ON mails_sent (address, at);
"""


@dataclass(frozen=True)
class Account:
    """One row of accounts."""

    id: int
    login_id: str
    password_scheme: str
    password_salt: bytes
    password_hash: bytes
    address: str | None
    failure_count: int
    locked_until: float | None


@dataclass(frozen=True)
class Session:
    """One row of sessions."""

    id: int
    account_id: int
    stage: str
    created_at: float
    stage_at: float
    last_seen: float


@dataclass(frozen=True)
class App:
    """One app registration and its last accepted step."""

    id: int
    public_id: str
    secret: bytes
    last_step: int


@dataclass(frozen=True)
class Code:
    """One issued code (hash only), pending, used or void."""

    id: int
    purpose: str
    code_hash: bytes
    target_address: str | None
    issued_at: float
    expires_at: float
    state: str


@dataclass(frozen=True)
class PendingReset:
    """An open "Initialize" and the session it is bound to (None once that session ended)."""

    session_id: int | None
    opened_at: float


@dataclass(frozen=True)
class PendingSecret:
    """The secret shown on the App tab, not yet registered."""

    session_id: int
    secret: bytes


class Tx:
    """The queries of one transaction; the only place SQL is written."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    # --- accounts ---------------------------------------------------------------------------
    _ACCOUNT = (
        "SELECT id, login_id, password_scheme, password_salt, password_hash, address,"
        " failure_count, locked_until FROM accounts"
    )

    def account_by_login(self, login_id: str) -> Account | None:
        row = self._c.execute(f"{self._ACCOUNT} WHERE login_id = ?", (login_id,)).fetchone()
        return Account(*row) if row else None

    def account(self, account_id: int) -> Account | None:
        row = self._c.execute(f"{self._ACCOUNT} WHERE id = ?", (account_id,)).fetchone()
        return Account(*row) if row else None

    def insert_account(self, login_id: str, scheme: str, salt: bytes, digest: bytes, now: float) -> bool:
        """False when the login ID exists already."""
        try:
            self._c.execute(
                "INSERT INTO accounts (login_id, password_scheme, password_salt, password_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (login_id, scheme, salt, digest, now),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def delete_account(self, login_id: str) -> bool:
        return self._c.execute("DELETE FROM accounts WHERE login_id = ?", (login_id,)).rowcount > 0

    def set_address(self, account_id: int, address: str | None) -> None:
        self._c.execute("UPDATE accounts SET address = ? WHERE id = ?", (address, account_id))

    def set_failures(self, account_id: int, count: int, locked_until: float | None) -> None:
        self._c.execute(
            "UPDATE accounts SET failure_count = ?, locked_until = ? WHERE id = ?",
            (count, locked_until, account_id),
        )

    # --- sessions ---------------------------------------------------------------------------
    def insert_session(self, account_id: int, token_hash: bytes, stage: str, now: float) -> int:
        cur = self._c.execute(
            "INSERT INTO sessions (account_id, token_hash, stage, created_at, stage_at, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (account_id, token_hash, stage, now, now, now),
        )
        return int(cur.lastrowid or 0)

    def session_by_token(self, token_hash: bytes) -> Session | None:
        row = self._c.execute(
            "SELECT id, account_id, stage, created_at, stage_at, last_seen FROM sessions WHERE token_hash = ?",
            (token_hash,),
        ).fetchone()
        return Session(*row) if row else None

    def session(self, session_id: int) -> Session | None:
        row = self._c.execute(
            "SELECT id, account_id, stage, created_at, stage_at, last_seen FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        return Session(*row) if row else None

    def set_stage(self, session_id: int, stage: str, now: float) -> None:
        self._c.execute(
            "UPDATE sessions SET stage = ?, stage_at = ?, last_seen = ? WHERE id = ?",
            (stage, now, now, session_id),
        )

    def set_token(self, session_id: int, token_hash: bytes) -> None:
        self._c.execute("UPDATE sessions SET token_hash = ? WHERE id = ?", (token_hash, session_id))

    def touch_session(self, session_id: int, now: float) -> None:
        self._c.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", (now, session_id))

    def delete_session(self, session_id: int) -> None:
        self._c.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def delete_other_sessions(self, account_id: int, keep: int, stage: str | None = None) -> None:
        """Every other session of the account, or only those in ``stage``."""
        self._c.execute(
            "DELETE FROM sessions WHERE account_id = ? AND id != ? AND (? IS NULL OR stage = ?)",
            (account_id, keep, stage, stage),
        )

    def delete_expired_sessions(
        self, now: float, first_factor_seconds: float, idle_seconds: float, absolute_seconds: float
    ) -> None:
        self._c.execute(
            "DELETE FROM sessions WHERE (stage IN ('first_factor', 'reset') AND stage_at + ? <= ?)"
            " OR (stage IN ('setup', 'authenticated') AND last_seen + ? <= ?) OR created_at + ? <= ?",
            (first_factor_seconds, now, idle_seconds, now, absolute_seconds, now),
        )

    # --- app registrations ------------------------------------------------------------------
    def apps(self, account_id: int) -> list[App]:
        rows = self._c.execute(
            "SELECT id, public_id, secret, last_step FROM app_registrations WHERE account_id = ? ORDER BY id",
            (account_id,),
        ).fetchall()
        return [App(*row) for row in rows]

    def app_count(self, account_id: int) -> int:
        row = self._c.execute("SELECT COUNT(*) FROM app_registrations WHERE account_id = ?", (account_id,))
        return int(row.fetchone()[0])

    def insert_app(self, account_id: int, public_id: str, secret: bytes, last_step: int, now: float) -> None:
        self._c.execute(
            "INSERT INTO app_registrations (account_id, public_id, secret, last_step, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (account_id, public_id, secret, last_step, now),
        )

    def advance_step(self, app_id: int, step: int) -> bool:
        """Raise L to ``step``; False if L was already at or above it (the guard is in SQL)."""
        cur = self._c.execute(
            "UPDATE app_registrations SET last_step = ? WHERE id = ? AND last_step < ?", (step, app_id, step)
        )
        return cur.rowcount == 1

    def delete_apps(self, account_id: int) -> None:
        self._c.execute("DELETE FROM app_registrations WHERE account_id = ?", (account_id,))

    # --- pending app secret -----------------------------------------------------------------
    def put_pending_secret(self, account_id: int, session_id: int, secret: bytes, now: float) -> None:
        self._c.execute(
            "INSERT OR REPLACE INTO pending_secrets (account_id, session_id, secret, created_at)"
            " VALUES (?, ?, ?, ?)",
            (account_id, session_id, secret, now),
        )

    def pending_secret(self, account_id: int) -> PendingSecret | None:
        row = self._c.execute(
            "SELECT session_id, secret FROM pending_secrets WHERE account_id = ?", (account_id,)
        ).fetchone()
        return PendingSecret(*row) if row else None

    def delete_pending_secret(self, account_id: int) -> None:
        self._c.execute("DELETE FROM pending_secrets WHERE account_id = ?", (account_id,))

    # --- codes ------------------------------------------------------------------------------
    def insert_code(
        self,
        account_id: int,
        purpose: str,
        code_hash: bytes,
        target: str | None,
        origin: str,
        issued_at: float,
        expires_at: float,
    ) -> None:
        self._c.execute(
            "INSERT INTO codes (account_id, purpose, code_hash, target_address, origin, issued_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (account_id, purpose, code_hash, target, origin, issued_at, expires_at),
        )

    def drop_code(self, account_id: int, code_hash: bytes) -> None:
        self._c.execute("DELETE FROM codes WHERE account_id = ? AND code_hash = ?", (account_id, code_hash))

    def codes(self, account_id: int, purpose: str) -> list[Code]:
        rows = self._c.execute(
            "SELECT id, purpose, code_hash, target_address, issued_at, expires_at, state FROM codes"
            " WHERE account_id = ? AND purpose = ? ORDER BY id",
            (account_id, purpose),
        ).fetchall()
        return [Code(*row) for row in rows]

    def has_pending_code(self, account_id: int, purpose: str) -> bool:
        row = self._c.execute(
            "SELECT 1 FROM codes WHERE account_id = ? AND purpose = ? AND state = 'pending' LIMIT 1",
            (account_id, purpose),
        ).fetchone()
        return row is not None

    def use_code(self, code_id: int) -> bool:
        """Mark a pending code used; False if it was not pending any more."""
        cur = self._c.execute(
            "UPDATE codes SET state = 'used' WHERE id = ? AND state = 'pending'", (code_id,)
        )
        return cur.rowcount == 1

    def void_codes(self, account_id: int, purpose: str | None) -> None:
        """Void the pending codes of one purpose, or of every purpose when None."""
        if purpose is None:
            self._c.execute(
                "UPDATE codes SET state = 'void' WHERE account_id = ? AND state = 'pending'", (account_id,)
            )
        else:
            self._c.execute(
                "UPDATE codes SET state = 'void' WHERE account_id = ? AND purpose = ? AND state = 'pending'",
                (account_id, purpose),
            )

    def prune_codes(self, account_id: int, before: float) -> None:
        self._c.execute("DELETE FROM codes WHERE account_id = ? AND expires_at < ?", (account_id, before))

    # --- pending reset ----------------------------------------------------------------------
    def open_reset(self, account_id: int, session_id: int, now: float) -> None:
        self._c.execute(
            "INSERT INTO pending_resets (account_id, session_id, opened_at) VALUES (?, ?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET session_id = excluded.session_id",
            (account_id, session_id, now),
        )

    def pending_reset(self, account_id: int) -> PendingReset | None:
        row = self._c.execute(
            "SELECT session_id, opened_at FROM pending_resets WHERE account_id = ?", (account_id,)
        ).fetchone()
        return PendingReset(*row) if row else None

    def close_reset(self, account_id: int) -> None:
        self._c.execute("DELETE FROM pending_resets WHERE account_id = ?", (account_id,))

    # --- trusted browsers -------------------------------------------------------------------
    def insert_trust(self, account_id: int, token_hash: bytes, granted: float, expires: float) -> None:
        self._c.execute(
            "INSERT INTO trusted_browsers (account_id, token_hash, granted_at, expires_at) VALUES (?, ?, ?, ?)",
            (account_id, token_hash, granted, expires),
        )

    def trust_valid(self, account_id: int, token_hash: bytes, now: float) -> bool:
        row = self._c.execute(
            "SELECT 1 FROM trusted_browsers WHERE account_id = ? AND token_hash = ? AND expires_at > ?",
            (account_id, token_hash, now),
        ).fetchone()
        return row is not None

    def delete_trusts(self, account_id: int) -> None:
        self._c.execute("DELETE FROM trusted_browsers WHERE account_id = ?", (account_id,))

    def prune_trusts(self, now: float) -> None:
        self._c.execute("DELETE FROM trusted_browsers WHERE expires_at <= ?", (now,))

    # --- server keys ------------------------------------------------------------------------
    def failures_since(self, login_id: str, since: float, client: str | None) -> list[float]:
        """The wrong passwords for ``login_id`` after ``since``, oldest first: from
        ``client``, or (None) from every client but the trusted browsers."""
        if client is None:
            query = "SELECT at FROM password_failures WHERE login_id = ? AND at > ? AND client NOT LIKE 'trusted:%'"
            rows = self._c.execute(query + " ORDER BY at", (login_id, since))
        else:
            query = (
                "SELECT at FROM password_failures WHERE login_id = ? AND at > ? AND client = ? ORDER BY at"
            )
            rows = self._c.execute(query, (login_id, since, client))
        return [float(row[0]) for row in rows]

    def add_failure(self, login_id: str, client: str, at: float) -> int:
        cur = self._c.execute(
            "INSERT INTO password_failures (login_id, client, at) VALUES (?, ?, ?)", (login_id, client, at)
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def forgive_failures(self, login_id: str, client: str) -> None:
        self._c.execute("DELETE FROM password_failures WHERE login_id = ? AND client = ?", (login_id, client))

    def drop_failure(self, failure_id: int) -> None:
        self._c.execute("DELETE FROM password_failures WHERE id = ?", (failure_id,))

    def prune_failures(self, before: float) -> None:
        self._c.execute("DELETE FROM password_failures WHERE at < ?", (before,))

    def mails_since(self, address: str, since: float) -> list[float]:
        rows = self._c.execute(
            "SELECT at FROM mails_sent WHERE address = ? AND at > ? ORDER BY at", (address, since)
        )
        return [float(row[0]) for row in rows]

    def add_mail(self, address: str, at: float) -> None:
        self._c.execute("INSERT INTO mails_sent (address, at) VALUES (?, ?)", (address, at))

    def clear_mails(self, address: str) -> None:
        self._c.execute("DELETE FROM mails_sent WHERE address = ?", (address,))

    def prune_mails(self, before: float) -> None:
        self._c.execute("DELETE FROM mails_sent WHERE at < ?", (before,))

    def server_key(self, name: str) -> bytes | None:
        row = self._c.execute("SELECT key FROM server_keys WHERE name = ?", (name,)).fetchone()
        return bytes(row[0]) if row else None

    def put_server_key(self, name: str, key: bytes) -> None:
        self._c.execute("INSERT OR IGNORE INTO server_keys (name, key) VALUES (?, ?)", (name, key))


class Store:
    """Opens one connection per transaction, so no connection is shared between threads."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        # One writer at a time in this process, queued on a lock rather than on SQLite's busy
        # handler, which polls with sleeps of up to 100 ms and starves some waiters under load.
        self._writer = threading.Lock()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """A write transaction; committed on success or on a CommitAnyway, else rolled back."""
        with self._writer, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(conn)
            except BaseException as exc:
                if getattr(exc, "commit", False):
                    conn.execute("COMMIT")
                else:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
