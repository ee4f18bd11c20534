"""The durable store: one SQLite file, one JSON record per account, what a verification changes
in columns and rows beside it, and its sessions in rows of their own.

Why these settings:

- **WAL** lets readers (``load``, ``login_ids``) run while a writer holds the lock, so a slow
  scrypt login never waits behind a code submission.
- **synchronous=FULL**: in WAL mode NORMAL already survives a crash of the *process* (the kill -9
  the tests do), but it can lose the last commits on a power cut or kernel panic. A committed
  "code used" or "address registered" that silently comes back undone is a security bug (a
  replayed code would pass), so we pay one fsync per commit. The portal's write rate is a few
  per user action, far below what one fsync per commit allows.
- **BEGIN IMMEDIATE** takes the write lock *before* reading the record, so two transactions on
  the same account (in two threads or two processes: the server and ``ninsho helpdesk``) never
  both read the same version: the second waits, then sees the first one's commit. That is what
  makes "two submissions of one valid code, exactly one success" hold.
- **busy_timeout** turns lock contention into waiting instead of ``database is locked``.
- **One writer at a time per process, queued on a lock**: SQLite allows one writer anyway, but its
  busy handler waits by sleeping (up to 100 ms a time) and polling, so under 16 concurrent code
  submissions the database stood idle while waiters slept: a p99 of 1.5 s and a third of the
  throughput lost (benchmarks/totp_load.py). Threads of this process now queue on
  ``_write_lock`` and find the database free; busy_timeout still covers other processes.
- **Group commit**: the fsync of synchronous=FULL costs about 4 ms on the benchmark machine,
  fifty times the core's own work for a code submission, so one fsync per transaction capped
  the whole portal at a few hundred writes a second (16 concurrent refused TOTP codes over
  HTTP: 620 -> 819 requests/s, median of three A/B pairs, benchmarks/README.md). Transactions
  that arrive while another commits wait in a queue; the next thread to take the write lock runs every queued one in a single
  SQLite transaction, each in its own SAVEPOINT (a change that raises is rolled back alone, as
  before), and commits once. No caller returns before the COMMIT that holds its change, so
  durability is unchanged; changes to one account run one after the other inside the batch and
  each sees the one before, so atomicity per account is unchanged too.

- **Sessions in a table of their own**, a row each: a request reads its own session by key and
  writes it back, and the account's record is written only when it changed. In the record, the
  sessions made it grow with every login (1,000 logins: 155 KB, and each request on the account
  took 14 ms instead of 3 ms), and a request rewrote all of them. A database from before keeps
  its sessions: they are moved into the table when it is opened.
- **What a code submission changes, in columns** (issue "Faster where users wait", goal 1): the
  failure count and the lock in ``accounts``, each app's last accepted TOTP step in
  ``app_steps``. A submission writes those and nothing else: the JSON record (and its sealed
  secrets) is encoded and written only when something else in it changed. Each is written by
  one conditional UPDATE whose WHERE clause holds the value this transaction read, so a step is
  recorded once: a writer that read the same step as another, and comes second, matches no row
  and is refused (:class:`~ninsho.reference.core.errors.Conflict`), its whole change rolled
  back. Under BEGIN IMMEDIATE nobody comes second; the condition is there so that single use
  never rests on the lock discipline of every program that opens the file. A database from
  before the columns is upgraded when it is opened, as for the sessions.

One connection per thread (sqlite3 connections must not be shared between threads while in
use); all of them are closed by :meth:`SQLiteStore.close`.

The file is created mode 0600 (SQLite gives its WAL and shared-memory files the database's own
mode), and with a :class:`~ninsho.reference.stores.sealing.Sealer` the TOTP secrets in it are
sealed: a copy of the file alone gives up neither (NIST SP 800-63B §5.1.4.2).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from ninsho.reference.core.errors import Conflict, UnknownAccount
from ninsho.reference.core.state import AccountState, Guard, Session, Sessions, Stage, session_from_json
from ninsho.reference.stores.sealing import PREFIX, Sealer

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
# record: the account as JSON (AccountState.to_json) without the fields of _Hot, which are
# the columns here and the rows of app_steps.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    login_id     TEXT PRIMARY KEY NOT NULL,
    record       TEXT NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until REAL
) WITHOUT ROWID
"""
# Columns a database from before them lacks: added when it is opened.
_HOT_COLUMNS = {"failures": "INTEGER NOT NULL DEFAULT 0", "locked_until": "REAL"}
# Each registered app's newest accepted TOTP step (AppRegistration.last_step), by app.
_STEP_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_steps (
    login_id  TEXT NOT NULL REFERENCES accounts (login_id) ON DELETE CASCADE,
    app_id    TEXT NOT NULL,
    last_step INTEGER,
    PRIMARY KEY (login_id, app_id)
) WITHOUT ROWID
"""
# The account's sessions (core/state.py Sessions), a row each, by its token's digest.
_SESSION_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    login_id   TEXT NOT NULL REFERENCES accounts (login_id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    stage      TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen  REAL NOT NULL,
    PRIMARY KEY (login_id, key)
) WITHOUT ROWID
"""
_UPSERT_SESSION = (
    "INSERT INTO sessions (login_id, key, stage, created_at, last_seen) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (login_id, key) DO UPDATE SET stage = excluded.stage,"
    " created_at = excluded.created_at, last_seen = excluded.last_seen"
)
# The limits' guards (core/state.py Guard), by key: a login ID's wrong passwords whether or not
# the ID exists, an address's mails. expires_at lets a write drop the ones that count no more.
_GUARD_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS guards (key TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL,"
    " expires_at REAL NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS guards_expiry ON guards (expires_at)",
)


class _Pending(Generic[T]):
    """One queued transaction: its change, and then its result or its error."""

    def __init__(self, login_id: str, change: Callable[[AccountState], T]) -> None:
        self.login_id, self.change = login_id, change
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class SQLiteStore:
    """The core's :class:`~ninsho.reference.core.ports.Store` on one SQLite database file."""

    def __init__(
        self, path: str | Path, sealer: Sealer | None = None, sweep_clock: Callable[[], float] | None = None
    ) -> None:
        self.path = Path(path)
        self._sealer = sealer
        # What the sweep of expired guards goes by when it is not the ``now`` of the change:
        # the test clock's lane furthest behind (reference/clocks.py ShiftedClock.earliest).
        self._sweep_clock = sweep_clock
        if not self.path.exists():  # created here, so that it is never readable by others
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._write_lock = threading.Lock()  # see "One writer at a time per process" above
        self._queue: list[_Pending[Any]] = []  # see "Group commit" above
        self._queue_lock = threading.Lock()
        with self._connection() as db:
            # journal_mode is persistent in the file; setting it needs no transaction.
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
            db.execute(_SCHEMA)
            db.execute(_SESSION_SCHEMA)
            db.execute(_STEP_SCHEMA)
            for statement in _GUARD_SCHEMA:
                db.execute(statement)
            self._upgrade(db)
            if sealer is not None:  # a wrong pepper is refused now, not as every code refused later
                row = db.execute(
                    "SELECT login_id, record FROM accounts WHERE instr(record, ?) LIMIT 1", (PREFIX,)
                ).fetchone()
                if row is not None:
                    sealer.open_record(row[0], json.loads(row[1]))

    # --- connections ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("the store is closed")
        # isolation_level=None: no implicit transactions; we say BEGIN IMMEDIATE ourselves.
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        with self._all_lock:
            self._all.append(db)
        return db

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
        yield db

    def close(self) -> None:
        with self._all_lock:
            self._closed = True
            for db in self._all:
                db.close()
            self._all.clear()

    # --- the Store protocol --------------------------------------------------------------
    def create(self, state: AccountState) -> None:
        with self._connection() as db, self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                cold, hot = _split(state.to_json())
                db.execute(
                    "INSERT INTO accounts (login_id, record, failures, locked_until) VALUES (?, ?, ?, ?)",
                    (state.login_id, self._dump(cold), hot.failures, hot.locked_until),
                )
                _write_hot(db, state.login_id, _Hot(hot.failures, hot.locked_until, {}), hot)
                self._write_sessions(db, state)
                db.execute("COMMIT")
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK")
                raise Conflict(
                    f"The account {state.login_id!r} already exists.",
                    f"アカウント {state.login_id!r} は既に存在します。",
                    field="login_id",
                ) from None
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def delete(self, login_id: str) -> bool:
        with self._connection() as db, self._write_lock:
            return db.execute("DELETE FROM accounts WHERE login_id = ?", (login_id,)).rowcount > 0

    def login_ids(self) -> list[str]:
        with self._connection() as db:
            return [row[0] for row in db.execute("SELECT login_id FROM accounts ORDER BY login_id")]

    def load(self, login_id: str) -> AccountState | None:
        """The record as it is now; its sessions are read when first asked for."""
        with self._connection() as db:
            read = self._read(db, login_id)
            return read.state if read is not None else None

    def transact(self, login_id: str, change: Callable[[AccountState], T]) -> T:
        pending: _Pending[T] = _Pending(login_id, change)
        with self._queue_lock:
            self._queue.append(pending)
        with self._connection() as db, self._write_lock:
            if not pending.done:  # nobody committed it while we waited: commit the queue
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(db, batch)
        if pending.error is not None:
            raise pending.error
        result: T = pending.result
        return result

    def guard(self, key: str, now: float, change: Callable[[Guard], T]) -> T:
        """One guard's change in its own transaction (a login makes two, around the password
        hash, which never runs inside one), and the guards expired by ``now`` dropped with it."""
        with self._connection() as db, self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT record FROM guards WHERE key = ?", (key,)).fetchone()
                guard = Guard.from_json(json.loads(row[0])) if row else Guard()
                result = change(guard)
                if guard.lanes:
                    db.execute(
                        "INSERT INTO guards (key, record, expires_at) VALUES (?, ?, ?) ON CONFLICT (key)"
                        " DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at",
                        (key, _ENCODER.encode(guard.to_json()), guard.expires_at),
                    )
                else:
                    db.execute("DELETE FROM guards WHERE key = ?", (key,))
                swept = now if self._sweep_clock is None else min(now, self._sweep_clock())
                db.execute("DELETE FROM guards WHERE expires_at <= ?", (swept,))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return result

    def _commit(self, db: sqlite3.Connection, batch: list[_Pending[Any]]) -> None:
        """Run ``batch`` in one transaction, each change in its own savepoint; one COMMIT."""
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                for pending in batch:
                    db.execute("SAVEPOINT one")
                    try:
                        pending.result = self._apply(db, pending)
                    except BaseException as exc:
                        db.execute("ROLLBACK TO one")
                        pending.error = exc
                    db.execute("RELEASE one")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
                    db.execute("ROLLBACK")
                raise
        except BaseException as exc:  # nothing of the batch was committed: all of it fails
            for pending in batch:
                pending.result, pending.error = None, exc
        finally:
            for pending in batch:
                pending.done = True

    def _apply(self, db: sqlite3.Connection, pending: _Pending[Any]) -> Any:
        read = self._read(db, pending.login_id)
        if read is None:
            raise UnknownAccount(
                f"No account {pending.login_id!r}.", f"アカウント {pending.login_id!r} はありません。"
            )
        result = pending.change(read.state)
        cold, hot = _split(read.state.to_json())
        if cold != read.cold:  # a code submission changes only columns and rows: no record written
            db.execute(
                "UPDATE accounts SET record = ? WHERE login_id = ?", (self._dump(cold), pending.login_id)
            )
        _write_hot(db, pending.login_id, read.hot, hot)
        self._write_sessions(db, read.state)
        return result

    @staticmethod
    def _write_sessions(db: sqlite3.Connection, state: AccountState) -> None:
        written, ended = state.sessions.changes()
        login_id = state.login_id
        db.executemany("DELETE FROM sessions WHERE login_id = ? AND key = ?", [(login_id, k) for k in ended])
        db.executemany(
            _UPSERT_SESSION,
            [(login_id, k, str(s.stage), s.created_at, s.last_seen) for k, s in written.items()],
        )

    def _upgrade(self, db: sqlite3.Connection) -> None:
        """A database from before kept the sessions, the failure count, the lock and the apps'
        last steps in the records: move them to their tables and columns, in one transaction."""
        db.execute("BEGIN IMMEDIATE")
        try:
            present = {row[1] for row in db.execute("PRAGMA table_info(accounts)")}
            for column, declared in _HOT_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE accounts ADD COLUMN {column} {declared}")
            rows = db.execute(
                "SELECT login_id, record FROM accounts"
                " WHERE instr(record, '\"sessions\":') OR instr(record, '\"failures\":')"
            ).fetchall()
            for login_id, text in rows:
                record = json.loads(text)
                for key, s in record.pop("sessions", {}).items():
                    moved = session_from_json(s)
                    db.execute(
                        _UPSERT_SESSION, (login_id, key, str(moved.stage), moved.created_at, moved.last_seen)
                    )
                if "failures" in record:
                    record, hot = _split(record)
                    db.execute("DELETE FROM app_steps WHERE login_id = ?", (login_id,))
                    db.execute(
                        "UPDATE accounts SET failures = ?, locked_until = ? WHERE login_id = ?",
                        (hot.failures, hot.locked_until, login_id),
                    )
                    _write_hot(db, login_id, _Hot(hot.failures, hot.locked_until, {}), hot)
                db.execute(
                    "UPDATE accounts SET record = ? WHERE login_id = ?", (_ENCODER.encode(record), login_id)
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # --- records -------------------------------------------------------------------------
    def _read(self, db: sqlite3.Connection, login_id: str) -> _Read | None:
        """The account as it is now, with its sessions to be read when first asked for."""
        row = db.execute(
            "SELECT record, failures, locked_until FROM accounts WHERE login_id = ?", (login_id,)
        ).fetchone()
        if row is None:
            return None
        cold = json.loads(row[0])
        unsealed = False
        if self._sealer is not None:
            unsealed = Sealer.holds_unsealed(cold)
            cold = self._sealer.open_record(login_id, cold)
        steps: dict[str, int | None] = {}
        if cold["apps"]:
            steps = dict(
                db.execute("SELECT app_id, last_step FROM app_steps WHERE login_id = ?", (login_id,))
            )
        hot = _Hot(row[1], row[2], steps)
        state = AccountState.from_json(_join(cold, hot), Sessions(rows=_SessionRows(db, login_id)))
        # An empty record where a secret is still unsealed, so that the next write seals it.
        return _Read(state, {} if unsealed else cold, hot)

    def _dump(self, record: dict[str, Any]) -> str:
        if self._sealer is not None:
            record = self._sealer.seal_record(record["login_id"], record)
        return _ENCODER.encode(record)


@dataclass(frozen=True)
class _Hot:
    """What a code submission changes: kept in columns and rows, not in the JSON record."""

    failures: int
    locked_until: float | None
    steps: dict[str, int | None]  # each app's last accepted step, by app_id


@dataclass(frozen=True)
class _Read:
    state: AccountState
    cold: dict[str, Any]  # the record as read (opened, when sealed), to tell whether it changed
    hot: _Hot


def _split(record: dict[str, Any]) -> tuple[dict[str, Any], _Hot]:
    """``record`` (AccountState.to_json) as the JSON the store keeps and the hot fields apart."""
    cold = {k: v for k, v in record.items() if k not in _HOT_COLUMNS}
    cold["apps"] = [{k: v for k, v in app.items() if k != "last_step"} for app in record["apps"]]
    steps = {app["app_id"]: app.get("last_step") for app in record["apps"]}
    return cold, _Hot(record.get("failures", 0), record.get("locked_until"), steps)


def _join(cold: dict[str, Any], hot: _Hot) -> dict[str, Any]:
    apps = [{**app, "last_step": hot.steps.get(app["app_id"])} for app in cold["apps"]]
    return {**cold, "failures": hot.failures, "locked_until": hot.locked_until, "apps": apps}


def _write_hot(db: sqlite3.Connection, login_id: str, before: _Hot, after: _Hot) -> None:
    """Write what changed from ``before`` (as this transaction read it) to ``after``, each by a
    conditional UPDATE that matches only the value read: see "What a code submission changes"."""
    if (after.failures, after.locked_until) != (before.failures, before.locked_until):
        cursor = db.execute(
            "UPDATE accounts SET failures = ?, locked_until = ?"
            " WHERE login_id = ? AND failures = ? AND locked_until IS ?",
            (after.failures, after.locked_until, login_id, before.failures, before.locked_until),
        )
        _written_once(cursor.rowcount, login_id, "LOCKOUT_THRESHOLD")
    for app_id, step in after.steps.items():
        if app_id not in before.steps:
            db.execute(
                "INSERT INTO app_steps (login_id, app_id, last_step) VALUES (?, ?, ?)",
                (login_id, app_id, step),
            )
        elif step != before.steps[app_id]:
            cursor = db.execute(
                "UPDATE app_steps SET last_step = ? WHERE login_id = ? AND app_id = ? AND last_step IS ?",
                (step, login_id, app_id, before.steps[app_id]),
            )
            _written_once(cursor.rowcount, login_id, "TOTP_REPLAY")
    gone = [(login_id, app_id) for app_id in before.steps if app_id not in after.steps]
    db.executemany("DELETE FROM app_steps WHERE login_id = ? AND app_id = ?", gone)


def _written_once(rowcount: int, login_id: str, requirement: str) -> None:
    if rowcount != 1:
        raise Conflict(
            f"The account {login_id!r} was changed by another writer meanwhile; nothing was written.",
            f"アカウント {login_id!r} は同時に他から変更されました。何も書き込んでいません。",
            requirement=requirement,
        )


class _SessionRows:
    """One account's rows of the sessions table, read on the connection of the transaction."""

    def __init__(self, db: sqlite3.Connection, login_id: str) -> None:
        self._db, self._login_id = db, login_id

    def one(self, key: str) -> Session | None:
        row = self._db.execute(
            "SELECT stage, created_at, last_seen FROM sessions WHERE login_id = ? AND key = ?",
            (self._login_id, key),
        ).fetchone()
        return Session(Stage(row[0]), row[1], row[2]) if row else None

    def every(self) -> dict[str, Session]:
        rows = self._db.execute(
            "SELECT key, stage, created_at, last_seen FROM sessions WHERE login_id = ?", (self._login_id,)
        )
        return {key: Session(Stage(stage), created, seen) for key, stage, created, seen in rows}


# Built once: json.dumps with options builds a new JSONEncoder on every call, and every
# transaction encodes its record. The text is the same as json.dumps(..., same options).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
