"""Issue "Sessions, throttling and mail safety" item 10: a request on an account with many
logins costs what it costs on an account with one.

Two accounts in one SQLite file (on disk, synchronous=FULL, as `ninsho serve` keeps it): one
logged in once, one logged in ``--logins`` times (every session still live). Then, alternating
between them so that drift hits both alike, ``--requests`` settings views on each one's newest
session, each one transaction with its commit. Printed: the medians, their ratio (goal: 1.0;
before the sessions table, 1,000 logins made a request 14 ms instead of 3 ms over HTTP), and
each account's record size (before: 155 KB after 1,000 logins).

    python -m benchmarks.session_growth [--logins 1000] [--requests 300]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import print_machine
from ninsho.reference.clocks import SeededRandom, VirtualClock
from ninsho.reference.core.portal import Portal
from ninsho.reference.embedded import FAST_HASHER
from ninsho.reference.outbox import Outbox
from ninsho.reference.stores.sqlite import SQLiteStore
from ninsho.spec.registry import load_profile

PASSWORD = "correct horse battery staple"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "portal.sqlite"
        clock = VirtualClock(1_700_000_000.0)
        store = SQLiteStore(db)
        try:
            portal = Portal(
                load_profile("iimc"), store, Outbox(clock=clock), clock, SeededRandom(1), pepper=bytes(32),
                hasher=FAST_HASHER,
            )  # fmt: skip
            for login_id in ("once", "many"):
                portal.add_user(login_id, PASSWORD)
            tokens = {"once": portal.login("once", PASSWORD).session}
            for _ in range(args.logins):
                tokens["many"] = portal.login("many", PASSWORD).session
            times: dict[str, list[float]] = {"once": [], "many": []}
            for _ in range(args.requests):
                for login_id, token in tokens.items():
                    clock.advance(1.0)  # the session's last_seen moves: its row is written and committed
                    started = time.perf_counter()
                    portal.settings(token)
                    times[login_id].append(time.perf_counter() - started)
        finally:
            store.close()
        with sqlite3.connect(db) as raw:
            sizes = dict(raw.execute("SELECT login_id, length(record) FROM accounts"))
            rows = dict(raw.execute("SELECT login_id, count(*) FROM sessions GROUP BY login_id"))
    once, many = (statistics.median(times[k]) * 1000 for k in ("once", "many"))
    print(
        f"1 login:     {rows['once']:5} session rows, record {sizes['once']} B, request median {once:.3f} ms"
    )
    print(
        f"{args.logins} logins: {rows['many']:5} session rows, record {sizes['many']} B, request median {many:.3f} ms"
    )
    print(
        f"request after {args.logins} logins ÷ after 1: {many / once:.2f} (goal 1.0; before the sessions table 14 ÷ 3 ms)"
    )


if __name__ == "__main__":
    main()
