"""The SQLite store keeps the Store contract when many threads write at once.

Sixteen threads change two accounts, so their transactions meet in the store's group commit
(several in one SQLite transaction, each in its own savepoint): every change that returned is
committed and seen by the next one on the same account, every change that raised is discarded
alone, and an unknown account is refused alone.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ninsho.reference.core.errors import UnknownAccount
from ninsho.reference.core.state import AccountState
from ninsho.reference.stores.sqlite import SQLiteStore

THREADS, ROUNDS = 16, 40


class Boom(Exception):
    pass


def test_concurrent_changes_compose_and_failures_stay_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "group.sqlite")
    for name in ("a0000001", "a0000002"):
        store.create(AccountState(login_id=name, password_hash="x"))

    def bump(state: AccountState) -> int:
        state.failures += 1
        return state.failures

    def bump_then_fail(state: AccountState) -> int:
        state.failures += 1000
        raise Boom

    def work(worker: int) -> list[tuple[str, int]]:
        seen = []
        for round_ in range(ROUNDS):
            login_id = ("a0000001", "a0000002")[(worker + round_) % 2]
            seen.append((login_id, store.transact(login_id, bump)))
            with pytest.raises(Boom):
                store.transact(login_id, bump_then_fail)
            with pytest.raises(UnknownAccount):
                store.transact("nobody00", bump)
        return seen

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = [pair for seen in pool.map(work, range(THREADS)) for pair in seen]
    store.close()

    reopened = SQLiteStore(tmp_path / "group.sqlite")
    total = sum(state.failures for state in (reopened.load("a0000001"), reopened.load("a0000002")) if state)
    assert total == THREADS * ROUNDS  # every returned change committed, no failed one
    for name in ("a0000001", "a0000002"):  # each change saw the one before it: 1..n, each once
        state = reopened.load(name)
        assert state is not None
        assert sorted(n for login_id, n in results if login_id == name) == list(range(1, state.failures + 1))
    reopened.close()
