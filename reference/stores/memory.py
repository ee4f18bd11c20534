"""An in-memory store: for the embedded portal, the in-process driver and tests.

Records are kept as JSON-shaped dicts and rebuilt on every read, exactly as the SQLite store
does, so a transaction can never leak a live object and a discarded change leaves no trace. The
sessions are kept beside the records, by account, as the SQLite store keeps them in a table of
their own, and written back from :meth:`Sessions.changes` as it writes them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ninsho.reference.core.errors import Conflict, UnknownAccount
from ninsho.reference.core.state import (
    AccountState,
    Guard,
    Sessions,
    session_from_json,
    session_to_json,
)

T = TypeVar("T")
SWEEP_EVERY = 256  # guard writes between two sweeps of the expired guards


class MemoryStore:
    def __init__(self, sweep_clock: Callable[[], float] | None = None) -> None:
        self._sweep_clock = sweep_clock  # as SQLiteStore's
        self._records: dict[str, dict[str, Any]] = {}
        self._sessions: dict[str, dict[str, dict[str, Any]]] = {}  # by login ID, then token digest
        self._guards: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._guard_writes = 0

    def create(self, state: AccountState) -> None:
        with self._lock:
            if state.login_id in self._records:
                raise Conflict(
                    f"The account {state.login_id!r} already exists.",
                    f"アカウント {state.login_id!r} は既に存在します。",
                    field="login_id",
                )
            self._records[state.login_id] = state.to_json()
            self._sessions[state.login_id] = {}
            self._write_sessions(state)

    def delete(self, login_id: str) -> bool:
        with self._lock:
            self._sessions.pop(login_id, None)
            return self._records.pop(login_id, None) is not None

    def login_ids(self) -> list[str]:
        with self._lock:
            return list(self._records)

    def load(self, login_id: str) -> AccountState | None:
        with self._lock:
            record = self._records.get(login_id)
            return self._state(login_id, record) if record is not None else None

    def transact(self, login_id: str, change: Callable[[AccountState], T]) -> T:
        with self._lock:
            record = self._records.get(login_id)
            if record is None:
                raise UnknownAccount(f"No account {login_id!r}.", f"アカウント {login_id!r} はありません。")
            state = self._state(login_id, record)
            result = change(state)
            self._records[login_id] = state.to_json()
            self._write_sessions(state)
            return result

    def _state(self, login_id: str, record: dict[str, Any]) -> AccountState:
        kept = self._sessions[login_id]
        return AccountState.from_json(record, Sessions({k: session_from_json(s) for k, s in kept.items()}))

    def _write_sessions(self, state: AccountState) -> None:
        kept = self._sessions[state.login_id]
        written, ended = state.sessions.changes()
        for key in ended:
            kept.pop(key, None)
        kept.update({key: session_to_json(s) for key, s in written.items()})

    def guard(self, key: str, now: float, change: Callable[[Guard], T]) -> T:
        with self._lock:
            record = self._guards.get(key)
            guard = Guard.from_json(record) if record is not None else Guard()
            result = change(guard)
            if guard.lanes:
                self._guards[key] = guard.to_json()
            else:
                self._guards.pop(key, None)
            self._guard_writes += 1
            if self._guard_writes % SWEEP_EVERY == 0:  # guessed IDs must not pile up for ever
                swept = now if self._sweep_clock is None else min(now, self._sweep_clock())
                for stale in [k for k, g in self._guards.items() if g["expires_at"] <= swept]:
                    del self._guards[stale]
            return result
