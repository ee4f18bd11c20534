"""Sessions (state.py): the account's sessions beside its record, read only as they are needed.

A store hands the core a :class:`Sessions` that reads rows on demand; these tests hold what it
promises the stores: a request reads its own session and no other, walking them reads them all
once, and :meth:`Sessions.changes` gives exactly what to write and what to delete.
"""

from __future__ import annotations

import pytest

from ninsho.reference.core.state import Session, Sessions, Stage


class CountingRows:
    """Rows as a store keeps them, counting the reads."""

    def __init__(self, rows: dict[str, Session]) -> None:
        self.rows = rows
        self.ones: list[str] = []
        self.everys = 0

    def one(self, key: str) -> Session | None:
        self.ones.append(key)
        found = self.rows.get(key)
        return Session(found.stage, found.created_at, found.last_seen) if found else None

    def every(self) -> dict[str, Session]:
        self.everys += 1
        return {k: Session(s.stage, s.created_at, s.last_seen) for k, s in self.rows.items()}


def stored(n: int) -> CountingRows:
    return CountingRows({f"k{i}": Session(Stage.AUTHENTICATED, float(i), float(i)) for i in range(n)})


def test_a_request_reads_only_its_own_session() -> None:
    rows = stored(1000)
    sessions = Sessions(rows=rows)
    s = sessions.get("k7")
    assert s == Session(Stage.AUTHENTICATED, 7.0, 7.0)
    s.last_seen = 99.0
    assert sessions.get("absent") is None and sessions.get("absent") is None  # looked up once
    assert rows.ones == ["k7", "absent"] and rows.everys == 0
    assert sessions.changes() == ({"k7": Session(Stage.AUTHENTICATED, 7.0, 99.0)}, [])


def test_walking_reads_all_once_and_keeps_what_the_transaction_did() -> None:
    rows = stored(3)
    sessions = Sessions(rows=rows)
    sessions["new"] = Session(Stage.SETUP, 5.0, 5.0)
    del sessions["k0"]
    assert sorted(sessions) == ["k1", "k2", "new"]
    assert len(sessions) == 3 and rows.everys == 1
    sessions.keep(lambda s: s.stage is Stage.SETUP)
    written, ended = sessions.changes()
    assert written == {"new": Session(Stage.SETUP, 5.0, 5.0)}
    assert sorted(ended) == ["k0", "k1", "k2"]


def test_an_unchanged_session_is_not_written_and_a_new_one_ended_is_not_deleted() -> None:
    sessions = Sessions(rows=stored(2))
    assert sessions["k1"].stage is Stage.AUTHENTICATED
    sessions["brief"] = Session(Stage.FIRST_FACTOR, 1.0, 1.0)
    del sessions["brief"]
    assert sessions.changes() == ({}, [])


def test_end_drops_a_session_read_in_this_transaction_without_reading_the_others() -> None:
    rows = stored(50)
    sessions = Sessions(rows=rows)
    s = sessions["k3"]
    sessions.end(s)
    assert rows.everys == 0 and sessions.changes() == ({}, ["k3"])
    with pytest.raises(KeyError):
        sessions.end(Session(Stage.SETUP, 0.0, 0.0))
    with pytest.raises(KeyError):
        del sessions["k3"]


def test_without_rows_it_holds_what_it_is_given() -> None:
    given = {"a": Session(Stage.RESET, 1.0, 1.0)}
    sessions = Sessions(given)
    assert dict(sessions) == given and "b" not in sessions
    sessions["b"] = Session(Stage.SETUP, 2.0, 2.0)
    sessions.clear()
    assert sessions.changes() == ({}, ["a"])
