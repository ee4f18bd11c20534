"""The database at rest (issue "Sessions, throttling and mail safety", item 9): the SQLite file
and its WAL are readable by their owner only, and a copy of them gives up no TOTP secret."""

from __future__ import annotations

import json
import secrets
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from ninsho.reference.core.state import AccountState, AppRegistration
from ninsho.reference.stores.sealing import PREFIX, Sealer, SealError
from ninsho.reference.stores.sqlite import SQLiteStore
from ninsho.reference.web.config import ServerConfig, build_runtime
from ninsho.spec.profile import Profile

PEPPER = b"p" * 32


def with_app(login_id: str, secret_hex: str, *, pending: str | None = None) -> AccountState:
    app = AppRegistration(app_id="app1", secret_hex=secret_hex, registered_at=0.0, last_step=None)
    return AccountState(login_id, "hash", apps=[app], pending_app_secret_hex=pending)


def on_disk(path: Path) -> bytes:
    """Everything a copy of the database would hold: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_the_file_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "portal.sqlite"
    store = SQLiteStore(path)
    try:
        store.create(AccountState("rita", "hash"))
        store.transact("rita", lambda s: s.addresses.append("rita@example.org"))
        files = sorted(path.parent.glob(path.name + "*"))
        assert {p.name for p in files} >= {"portal.sqlite", "portal.sqlite-wal"}
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, f"{file.name} is readable by others"
    finally:
        store.close()


def test_sealed_secrets_round_trip_and_never_reach_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "portal.sqlite"
    secret, pending = secrets.token_hex(20), secrets.token_hex(20)
    store = SQLiteStore(path, sealer=Sealer.from_pepper(PEPPER))
    try:
        store.create(with_app("rita", secret, pending=pending))
        store.transact("rita", lambda s: setattr(s.apps[0], "last_step", 7))
        loaded = store.load("rita")
        assert loaded is not None
        assert (loaded.apps[0].secret_hex, loaded.apps[0].last_step) == (secret, 7)
        assert loaded.pending_app_secret_hex == pending
        raw = on_disk(path)
        for value in (secret, pending):
            assert value.encode() not in raw and bytes.fromhex(value) not in raw
        assert PREFIX.encode() in raw
    finally:
        store.close()


def test_another_pepper_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "portal.sqlite"
    first = SQLiteStore(path, sealer=Sealer.from_pepper(PEPPER))
    first.create(with_app("rita", secrets.token_hex(20)))
    first.close()
    with pytest.raises(SealError, match="another pepper"):
        SQLiteStore(path, sealer=Sealer.from_pepper(b"q" * 32))


def test_a_sealed_secret_opens_only_in_its_own_account(tmp_path: Path) -> None:
    """Copying one account's sealed record over another's does not hand the other its secret."""
    path = tmp_path / "portal.sqlite"
    store = SQLiteStore(path, sealer=Sealer.from_pepper(PEPPER))
    try:
        store.create(with_app("rita", secrets.token_hex(20)))
        store.create(AccountState("sam", "hash"))
        with sqlite3.connect(path) as raw:
            record = json.loads(
                raw.execute("SELECT record FROM accounts WHERE login_id = 'rita'").fetchone()[0]
            )
            record["login_id"] = "sam"
            raw.execute("UPDATE accounts SET record = ? WHERE login_id = 'sam'", (json.dumps(record),))
        raw.close()
        with pytest.raises(SealError, match="'sam'"):
            store.load("sam")
    finally:
        store.close()


# A transaction that changes the record, and one that changes nothing in it (a settings view:
# the record is then not rewritten, except to seal what was stored before sealing).
@pytest.mark.parametrize(
    "change", [lambda s: setattr(s, "failures", 1), lambda s: None], ids=["changes", "reads"]
)
def test_a_record_from_before_sealing_opens_and_is_sealed_at_its_next_write(
    tmp_path: Path, change: Callable[[AccountState], None]
) -> None:
    path = tmp_path / "portal.sqlite"
    secret = secrets.token_hex(20)
    plain = SQLiteStore(path)
    plain.create(with_app("rita", secret))
    plain.close()
    store = SQLiteStore(path, sealer=Sealer.from_pepper(PEPPER))
    try:
        assert store.load("rita").apps[0].secret_hex == secret  # type: ignore[union-attr]
        store.transact("rita", change)
        with sqlite3.connect(path) as raw:
            text = raw.execute("SELECT record FROM accounts").fetchone()[0]
        raw.close()
        assert secret not in text and PREFIX in text
        assert store.load("rita").apps[0].secret_hex == secret  # type: ignore[union-attr]
    finally:
        store.close()


def test_the_served_portal_seals_with_its_pepper(tmp_path: Path, profile: Profile) -> None:
    """The wiring of ``ninsho serve`` and the operators' commands, not only the store."""
    path = tmp_path / "portal.sqlite"
    secret = secrets.token_hex(20)
    runtime = build_runtime(ServerConfig(profile=profile, db_path=path, pepper=PEPPER), serving=False)
    try:
        runtime.store.create(with_app("rita", secret))
    finally:
        runtime.close()
    assert secret.encode() not in on_disk(path)
    reopened = SQLiteStore(path, sealer=Sealer.from_pepper(PEPPER))
    try:
        assert reopened.load("rita").apps[0].secret_hex == secret  # type: ignore[union-attr]
    finally:
        reopened.close()
