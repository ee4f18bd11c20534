"""AccountState.to_json / from_json: exact inverses, and to_json equal to dataclasses.asdict.

to_json is written out by hand for speed (benchmarks/README.md, item 3); these properties keep
it what ``asdict`` was: same keys and values (enum members kept), nothing shared with the state,
and a round trip through JSON text (as the SQLite store keeps the record) changes nothing.
The strategies are built from the dataclasses' own fields, so a field added later is generated
too, and a to_json that forgets it fails here. The sessions are the one field the record leaves
out: they are kept beside it (state.py, ``Sessions``).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ninsho.reference.core import state as state_module
from ninsho.reference.core.state import (
    AccountState,
    AppRegistration,
    IssuedCode,
    Purpose,
    Session,
    Sessions,
    Stage,
)

TEXT = st.text(max_size=12)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither


def _for_type(hint: Any) -> st.SearchStrategy[Any]:
    """A strategy for one field's type, recursing into the record's own dataclasses."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return st.one_of(*(_for_type(a) for a in args))
    if origin is list:
        return st.lists(_for_type(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(_for_type(args[0]), _for_type(args[1]), max_size=3)
    if hint is Sessions:
        return st.dictionaries(TEXT, _for_dataclass(Session), max_size=3).map(Sessions)
    if hint is type(None):
        return st.none()
    if hint is float:
        return FLOATS
    if hint is str:
        return TEXT
    if dataclasses.is_dataclass(hint):
        return _for_dataclass(hint)
    return st.from_type(hint)  # int, bool, the StrEnums


def _for_dataclass(cls: Any) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls, vars(state_module))
    return st.builds(cls, **{f.name: _for_type(hints[f.name]) for f in dataclasses.fields(cls)})


STATES = _for_dataclass(AccountState)


@settings(max_examples=300)
@given(STATES)
def test_to_json_equals_asdict(state: AccountState) -> None:
    mine = state.to_json()
    reference = {k: v for k, v in dataclasses.asdict(state).items() if k != "sessions"}
    assert "sessions" not in mine
    assert mine == reference
    assert repr(mine) == repr(reference)  # same key order, same types (enum members kept)


@settings(max_examples=300)
@given(STATES)
def test_round_trip_through_objects_and_json_text(state: AccountState) -> None:
    data = state.to_json()
    assert AccountState.from_json(data) == state
    back = AccountState.from_json(json.loads(json.dumps(data)))
    assert back == state
    assert back.to_json() == data


@settings(max_examples=100)
@given(STATES)
def test_to_json_shares_nothing_mutable(state: AccountState) -> None:
    data = state.to_json()
    before = json.dumps(data, sort_keys=True)
    state.addresses.append("x")
    state.apps.append(AppRegistration("i", "00", 0.0))
    state.codes.append(IssuedCode(Purpose.LOGIN, "d", 0.0, 1.0))
    state.sessions["new"] = Session(Stage.SETUP, 0.0, 0.0)
    for app in state.apps:
        app.last_step = 7
    for session in state.sessions.values():
        session.last_seen = 1.5
    assert json.dumps(data, sort_keys=True) == before


def test_from_json_accepts_a_record_from_before_last_step() -> None:
    """Records written before ``last_step`` existed still load (its default applies)."""
    data = AccountState("taro", "h", apps=[AppRegistration("a", "00", 1.0, 9)]).to_json()
    del data["apps"][0]["last_step"]
    assert AccountState.from_json(data).apps[0].last_step is None


def test_from_json_takes_in_the_sessions_of_a_record_from_before_their_table() -> None:
    """Records written while the sessions were in them: those sessions are the state's."""
    data = AccountState("taro", "h").to_json()
    data["sessions"] = {"k": {"stage": "setup", "created_at": 1.0, "last_seen": 2.0}}
    state = AccountState.from_json(data)
    assert dict(state.sessions) == {"k": Session(Stage.SETUP, 1.0, 2.0)}
    assert "sessions" not in state.to_json()
