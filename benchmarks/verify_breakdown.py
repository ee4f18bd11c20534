"""Where one refused TOTP verification's time goes, without HTTP: part of item 3's diagnosis.

The same call as POST /api/v1/second-factor/app (``Portal.verify_app_code`` with a refused code,
on a session waiting for its second factor), sequentially, on:

- the in-memory store: the core's own work (session lookup, three HMAC-SHA1 comparisons for a
  ±1 window, the failure count, the JSON record round trip);
- the SQLite store as shipped (WAL, synchronous=FULL: one fsync per commit);
- the SQLite store with synchronous=NORMAL, as a diagnosis only: what the fsync costs. NORMAL
  survives a killed process but may lose the last commits on a power cut, which the store's
  docstring rules out for "code used" records, so it is not a fix.

Accounts are spread so none reaches the lockout (``threshold - 1`` refusals each).
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyotp

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import print_machine
from ninsho.reference.clocks import SystemClock, SystemRandom
from ninsho.reference.core.errors import CodeRejected
from ninsho.reference.core.passwords import PasswordHasher
from ninsho.reference.core.portal import Portal
from ninsho.reference.core.ports import OutgoingMail
from ninsho.reference.stores.memory import MemoryStore
from ninsho.reference.stores.sqlite import SQLiteStore
from ninsho.spec.registry import load_profile


class NoMail:
    def send(self, mail: OutgoingMail) -> None:  # no mail is sent on this path
        pass


def sessions(portal: Portal, count: int) -> list[tuple[str, str]]:
    """``count`` accounts with a registered app; (session, wrong code) for each."""
    out = []
    for _ in range(count):
        login_id, password = "v" + secrets.token_hex(6), "pw-" + secrets.token_hex(8)
        portal.add_user(login_id, password)
        session = portal.login(login_id, password).session
        totp = pyotp.parse_uri(portal.start_app_registration(session).uri)
        assert isinstance(totp, pyotp.TOTP)
        portal.confirm_app_registration(session, totp.now())
        portal.logout(session)
        session = portal.login(login_id, password).session
        near = {totp.at(time.time() + 30 * d) for d in range(-20, 21)}
        wrong = next(c for c in (f"{secrets.randbelow(10**6):06d}" for _ in range(100)) if c not in near)
        out.append((session, wrong))
    return out


def per_call_ms(portal: Portal, prepared: list[tuple[str, str]], refusals: int) -> float:
    times = []
    for _ in range(refusals):
        for session, code in prepared:
            began = time.perf_counter()
            with contextlib.suppress(CodeRejected):
                portal.verify_app_code(session, code)
            times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=60)
    args = parser.parse_args(argv)
    print_machine()
    profile = load_profile("iimc")
    refusals = profile.lockout_threshold - 1
    with tempfile.TemporaryDirectory(prefix="ninsho-bench-verify-") as tmp:
        variants: list[tuple[str, Callable[[], object]]] = [
            ("in-memory store (the core's own work)", MemoryStore),
            ("SQLite, synchronous=FULL (as shipped)", lambda: SQLiteStore(Path(tmp) / "full.sqlite")),
            ("SQLite, synchronous=NORMAL (diagnosis only)", lambda: _normal(Path(tmp) / "normal.sqlite")),
        ]
        print(f"median time of one refused verification, {args.accounts} accounts x {refusals} refusals:")
        for label, make in variants:
            store = make()
            portal = Portal(
                profile, store, NoMail(), SystemClock(), SystemRandom(),  # type: ignore[arg-type]
                pepper=secrets.token_bytes(32), hasher=PasswordHasher(n=2**4, r=8, p=1),
            )  # fmt: skip
            prepared = sessions(portal, args.accounts)
            print(f"  {label:<46} {per_call_ms(portal, prepared, refusals):7.3f} ms")
            close = getattr(store, "close", None)
            if close is not None:
                close()
    return 0


def _normal(path: Path) -> SQLiteStore:
    """The shipped store with its connections switched to synchronous=NORMAL (diagnosis only)."""
    store = SQLiteStore(path)
    connect = store._connect

    def normal() -> sqlite3.Connection:
        db = connect()
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    store._connect = normal  # type: ignore[method-assign]
    for db in store._all:  # the connection __init__ opened already
        db.execute("PRAGMA synchronous=NORMAL")
    return store


if __name__ == "__main__":
    sys.exit(main())
