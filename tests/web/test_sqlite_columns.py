"""What a code submission changes lives in columns and rows, not in the JSON record (stores/sqlite.py).

What it promises: a refused code writes the failure count and the lock and leaves the record's
text as it was; an accepted code writes its app's step and nothing of the record; each is one
conditional UPDATE that refuses a value nobody read; removing an app or the account removes its
step; a database from before the columns keeps every count, lock and step, and still refuses a
replay of the step it held.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from ninsho.reference.clocks import SeededRandom, VirtualClock
from ninsho.reference.core import otp
from ninsho.reference.core.errors import AccountLocked, CodeRejected, Conflict
from ninsho.reference.core.portal import Portal
from ninsho.reference.core.state import AccountState, AppRegistration
from ninsho.reference.embedded import FAST_HASHER
from ninsho.reference.outbox import Outbox
from ninsho.reference.stores import sqlite as store_module
from ninsho.reference.stores.sqlite import SQLiteStore
from ninsho.spec.registry import load_profile

PASSWORD = "correct horse battery staple"
PROFILE = load_profile("iimc")
NOW = 1_700_000_000.0


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "portal.sqlite"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NOW)


def open_portal(db: Path, clock: VirtualClock) -> tuple[Portal, SQLiteStore]:
    store = SQLiteStore(db)
    portal = Portal(
        PROFILE, store, Outbox(clock=clock), clock, SeededRandom(7), pepper=bytes(32), hasher=FAST_HASHER
    )
    return portal, store


@pytest.fixture
def portal(db: Path, clock: VirtualClock) -> Iterator[Portal]:
    portal, store = open_portal(db, clock)
    portal.add_user("taro", PASSWORD)
    yield portal
    store.close()


def code_at(secret: bytes, now: float, offset: int = 0) -> str:
    step = otp.time_step(now, PROFILE.totp_period_seconds) + offset
    return otp.hotp(secret, step, digits=PROFILE.totp_digits, algorithm=PROFILE.totp_algorithm)


def with_app(portal: Portal, clock: VirtualClock) -> bytes:
    """Register an app for taro and move past its registration step and window."""
    session = portal.login("taro", PASSWORD).session
    secret = pyotp.TOTP(portal.start_app_registration(session).manual_key).byte_secret()
    portal.confirm_app_registration(session, code_at(secret, clock.now()))
    clock.advance(
        PROFILE.totp_period_seconds * (PROFILE.totp_window_past_steps + PROFILE.totp_window_future_steps + 1)
    )
    return secret


def row_of(db: Path, login_id: str) -> tuple[str, int, float | None]:
    with sqlite3.connect(db) as raw:
        row: tuple[str, int, float | None] = raw.execute(
            "SELECT record, failures, locked_until FROM accounts WHERE login_id = ?", (login_id,)
        ).fetchone()
        return row


def steps_of(db: Path) -> list[tuple[str, int | None]]:
    with sqlite3.connect(db) as raw:
        return list(raw.execute("SELECT login_id, last_step FROM app_steps ORDER BY login_id"))


def test_a_refused_code_writes_the_count_not_the_record(
    portal: Portal, db: Path, clock: VirtualClock
) -> None:
    secret = with_app(portal, clock)
    session = portal.login("taro", PASSWORD).session
    record, failures, _ = row_of(db, "taro")
    assert failures == 0
    wrong = code_at(secret, clock.now(), offset=40)
    for expected in range(1, PROFILE.lockout_threshold):
        with pytest.raises(CodeRejected):
            portal.verify_app_code(session, wrong)
        assert row_of(db, "taro") == (record, expected, None)
    with pytest.raises((CodeRejected, AccountLocked)):
        portal.verify_app_code(session, wrong)
    locked_until = clock.now() + PROFILE.lockout_duration_seconds
    assert row_of(db, "taro") == (record, PROFILE.lockout_threshold, locked_until)
    stored = json.loads(record)
    assert "failures" not in stored and "locked_until" not in stored


def test_an_accepted_code_writes_its_step_not_the_record(
    portal: Portal, db: Path, clock: VirtualClock
) -> None:
    secret = with_app(portal, clock)
    [(_, registered)] = steps_of(db)
    assert registered == otp.time_step(NOW, PROFILE.totp_period_seconds)
    session = portal.login("taro", PASSWORD).session
    record = row_of(db, "taro")
    portal.verify_app_code(session, code_at(secret, clock.now()))
    assert row_of(db, "taro") == record
    assert steps_of(db) == [("taro", otp.time_step(clock.now(), PROFILE.totp_period_seconds))]
    assert all("last_step" not in app for app in json.loads(record[0])["apps"])
    with pytest.raises(CodeRejected):  # the same step again: a replay [TOTP_REPLAY]
        portal.verify_app_code(portal.login("taro", PASSWORD).session, code_at(secret, clock.now()))


def test_a_step_nobody_read_is_never_overwritten(portal: Portal, db: Path, clock: VirtualClock) -> None:
    """Two writers that read step 5 both mean to record 6: the second matches no row."""
    with_app(portal, clock)
    with sqlite3.connect(db, isolation_level=None) as raw:
        raw.execute("UPDATE app_steps SET last_step = 5")
        (app_id,) = raw.execute("SELECT app_id FROM app_steps").fetchone()
        read = store_module._Hot(0, None, {app_id: 5})
        store_module._write_hot(raw, "taro", read, store_module._Hot(0, None, {app_id: 6}))
        with pytest.raises(Conflict) as second:
            store_module._write_hot(raw, "taro", read, store_module._Hot(0, None, {app_id: 6}))
        assert second.value.requirement == "TOTP_REPLAY"
        with pytest.raises(Conflict) as counted:  # the failure count likewise
            store_module._write_hot(
                raw, "taro", store_module._Hot(3, None, {}), store_module._Hot(4, None, {})
            )
        assert counted.value.requirement == "LOCKOUT_THRESHOLD"
    assert steps_of(db) == [("taro", 6)]
    assert row_of(db, "taro")[1] == 0


def test_a_refused_write_rolls_back_the_whole_change(portal: Portal, db: Path, clock: VirtualClock) -> None:
    """A change whose step write is refused leaves nothing of itself: the record's change with it."""
    with_app(portal, clock)
    before = row_of(db, "taro")

    def behind_the_lock(state: AccountState) -> None:
        state.addresses.append("taro@gmail.com")
        state.apps[0].last_step = 10**9
        with store._connection() as same:  # another writer's step lands between read and write
            same.execute("UPDATE app_steps SET last_step = 7")

    store = portal.store
    assert isinstance(store, SQLiteStore)
    with pytest.raises(Conflict):
        store.transact("taro", behind_the_lock)
    assert row_of(db, "taro") == before
    assert steps_of(db)[0][1] != 7


def test_removing_an_app_or_the_account_removes_its_step(
    portal: Portal, db: Path, clock: VirtualClock
) -> None:
    with_app(portal, clock)
    assert len(steps_of(db)) == 1

    def drop_apps(state: AccountState) -> None:
        state.apps.clear()

    portal.store.transact("taro", drop_apps)
    assert steps_of(db) == []
    with_app(portal, clock)
    portal.remove_user("taro")
    assert steps_of(db) == []


def test_a_database_from_before_the_columns_keeps_counts_locks_and_steps(
    db: Path, clock: VirtualClock
) -> None:
    secret = bytes(range(20))
    step = otp.time_step(NOW, PROFILE.totp_period_seconds)
    old = AccountState(
        "hana",
        FAST_HASHER.hash(PASSWORD, SeededRandom(1)),
        failures=3,
        apps=[AppRegistration("a1", secret.hex(), 0.0, last_step=step)],
    ).to_json()
    locked = AccountState(
        "ken",
        FAST_HASHER.hash(PASSWORD, SeededRandom(1)),
        failures=10,
        locked_until=NOW + 60,
        apps=[AppRegistration("k1", secret.hex(), 0.0, last_step=None)],
    ).to_json()
    with sqlite3.connect(db) as raw:  # the schema as it was
        raw.execute(
            "CREATE TABLE accounts (login_id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL) WITHOUT ROWID"
        )
        raw.executemany(
            "INSERT INTO accounts VALUES (?, ?)", [("hana", json.dumps(old)), ("ken", json.dumps(locked))]
        )
    portal, store = open_portal(db, clock)
    try:
        hana = store.load("hana")
        assert hana is not None and hana.failures == 3 and hana.apps[0].last_step == step
        assert row_of(db, "hana")[1:] == (3, None) and row_of(db, "ken")[1:] == (10, NOW + 60)
        assert steps_of(db) == [("hana", step), ("ken", None)]
        for name in ("hana", "ken"):
            moved = json.loads(row_of(db, name)[0])
            assert "failures" not in moved and "locked_until" not in moved
            assert all("last_step" not in app for app in moved["apps"])
        with pytest.raises(CodeRejected):  # the step it held is still used
            portal.verify_app_code(portal.login("hana", PASSWORD).session, code_at(secret, NOW))
        with pytest.raises(AccountLocked):
            portal.verify_app_code(portal.login("ken", PASSWORD).session, code_at(secret, NOW))
    finally:
        store.close()
    again = SQLiteStore(db)  # opened again: nothing left to move, nothing lost
    try:
        reopened = again.load("hana")
        assert reopened is not None and reopened.failures == 3 and reopened.apps[0].last_step == step
    finally:
        again.close()
