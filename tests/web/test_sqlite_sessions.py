"""The SQLite store keeps sessions in a table beside the account records (stores/sqlite.py).

What it promises: an account's record does not grow with its logins, a request on a session
writes that session's row and not the record, a discarded change writes neither, removing the
account removes its sessions, and a database from before the table keeps its sessions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ninsho.reference.clocks import SeededRandom, VirtualClock
from ninsho.reference.core.errors import SessionExpired
from ninsho.reference.core.portal import Portal
from ninsho.reference.core.state import AccountState, Session, Stage
from ninsho.reference.embedded import FAST_HASHER
from ninsho.reference.outbox import Outbox
from ninsho.reference.stores.sqlite import SQLiteStore
from ninsho.spec.registry import load_profile

PASSWORD = "correct horse battery staple"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "portal.sqlite"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(1_700_000_000.0)


@pytest.fixture
def portal(db: Path, clock: VirtualClock) -> Iterator[Portal]:
    random = SeededRandom(7)
    store = SQLiteStore(db)
    portal = Portal(
        load_profile("iimc"), store, Outbox(clock=clock), clock, random, pepper=bytes(32), hasher=FAST_HASHER
    )
    portal.add_user("taro", PASSWORD)
    yield portal
    store.close()


def record_of(db: Path, login_id: str) -> str:
    with sqlite3.connect(db) as raw:
        text: str = raw.execute("SELECT record FROM accounts WHERE login_id = ?", (login_id,)).fetchone()[0]
        return text


def session_rows(db: Path) -> int:
    with sqlite3.connect(db) as raw:
        count: int = raw.execute("SELECT count(*) FROM sessions").fetchone()[0]
        return count


def test_the_record_does_not_grow_with_logins(portal: Portal, db: Path) -> None:
    first = portal.login("taro", PASSWORD)
    size = len(record_of(db, "taro"))
    tokens = [portal.login("taro", PASSWORD).session for _ in range(300)]
    assert len(record_of(db, "taro")) == size
    assert session_rows(db) == 301
    assert "sessions" not in json.loads(record_of(db, "taro"))
    assert portal.settings(first.session) is not None  # each session is still its own
    assert portal.settings(tokens[-1]) is not None


def test_a_request_writes_its_session_not_the_record(portal: Portal, db: Path, clock: VirtualClock) -> None:
    token = portal.login("taro", PASSWORD).session
    before = record_of(db, "taro")
    clock.advance(5)
    portal.settings(token)
    assert record_of(db, "taro") == before
    with sqlite3.connect(db) as raw:
        (seen,) = raw.execute("SELECT last_seen FROM sessions").fetchone()
    assert seen == 1_700_000_005.0


def test_a_discarded_change_writes_no_session(portal: Portal, db: Path) -> None:
    def file_then_fail(state: AccountState) -> None:
        state.sessions["k"] = Session(Stage.SETUP, 0.0, 0.0)
        raise RuntimeError("discarded")

    with pytest.raises(RuntimeError):
        portal.store.transact("taro", file_then_fail)
    assert session_rows(db) == 0


def test_removing_the_account_removes_its_sessions(portal: Portal, db: Path) -> None:
    token = portal.login("taro", PASSWORD).session
    portal.remove_user("taro")
    assert session_rows(db) == 0
    portal.add_user("taro", PASSWORD)
    with pytest.raises(SessionExpired):
        portal.settings(token)


def test_a_database_from_before_the_table_keeps_its_sessions(db: Path) -> None:
    record = AccountState("hana", "h").to_json()
    record["sessions"] = {"digest": {"stage": "authenticated", "created_at": 1.0, "last_seen": 2.0}}
    with sqlite3.connect(db) as raw:  # the schema as it was
        raw.execute(
            "CREATE TABLE accounts (login_id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL) WITHOUT ROWID"
        )
        raw.execute("INSERT INTO accounts VALUES (?, ?)", ("hana", json.dumps(record)))
    store = SQLiteStore(db)
    try:
        loaded = store.load("hana")
        assert loaded is not None
        assert dict(loaded.sessions) == {"digest": Session(Stage.AUTHENTICATED, 1.0, 2.0)}
        assert "sessions" not in json.loads(record_of(db, "hana"))
        assert session_rows(db) == 1
    finally:
        store.close()
