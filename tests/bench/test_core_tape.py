"""The tape behind item 2's yardstick replays a portal's calls faithfully, and says when not."""

from __future__ import annotations

import pickle
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from benchmarks.core_tape import Recorder, Tape, outcome_of, replay
from benchmarks.raw_core import record
from ninsho.reference.clocks import VirtualClock
from ninsho.reference.core.errors import NinshoError
from ninsho.reference.embedded import Embedded
from ninsho.spec.registry import load_profile


def code_mailed(recorder: Recorder) -> tuple[Embedded, str, str]:
    """On a taped portal: a user, a login, and an address to register: the portal, the
    session and the mailed code (three calls on the tape)."""
    embedded = recorder.embedded_portal(load_profile("iimc"))
    portal = embedded.portal
    portal.add_user("u1", "correct horse battery")
    session = portal.login("u1", "correct horse battery").session
    portal.start_email_registration(session, "u1@example.com")
    mail = embedded.outbox.latest("u1@example.com")
    assert mail is not None
    return embedded, session, re.findall(r"\b\d{8}\b", mail.body)[0]


def taped_flow() -> list[Tape]:
    """A short life of one embedded portal: a user, a login, a refused and an accepted code."""
    recorder = Recorder()
    embedded, session, code = code_mailed(recorder)
    portal = embedded.portal
    with pytest.raises(NinshoError):
        portal.confirm_email_registration(session, "00000000" if code != "00000000" else "11111111")
    assert isinstance(embedded.clock, VirtualClock)
    embedded.clock.advance(30)  # the harness's clock: not the core's work, so not on the tape
    portal.confirm_email_registration(session, code)
    return recorder.tapes


def test_a_replay_gives_every_recorded_answer() -> None:
    tapes = taped_flow()
    result = replay(tapes)
    assert result.differences == []
    assert (result.portals, result.calls) == (1, 5)
    assert result.identical == 5
    assert [call.method for call in tapes[0].calls][:2] == ["add_user", "login"]


def test_a_tape_that_does_not_match_the_core_is_reported() -> None:
    tapes = taped_flow()
    last = tapes[0].calls[-1]
    last.clock[:] = [t + 3600 for t in last.clock]  # the accepted code, an hour later: expired
    result = replay(tapes)
    assert len(result.differences) == 1
    assert "confirm_email_registration" in result.differences[0]


def taped_race() -> list[Tape]:
    """Two browsers of one session confirm the same mailed code at once: both calls are in the
    portal together (a barrier holds each until the other arrives), and the account's lock
    decides which one uses the code."""
    recorder = Recorder()
    embedded, session, code = code_mailed(recorder)
    portal = embedded.portal
    inner = portal._portal  # the untaped portal: the barrier must hold calls already on the tape
    confirm, both_in = inner.confirm_email_registration, threading.Barrier(2, timeout=10)

    def held(*args: Any) -> Any:
        both_in.wait()
        return confirm(*args)

    inner.confirm_email_registration = held
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: outcome_of(portal.confirm_email_registration, session, code), range(2)))
    return recorder.tapes


def test_calls_in_flight_together_are_compared_as_a_group() -> None:
    tapes = taped_race()
    calls = tapes[0].calls
    assert [c.overlapped for c in calls] == [False, False, False, True, True]
    outcomes = sorted(repr(c.outcome) for c in calls[3:])
    assert sum("refused" in o for o in outcomes) == 1, outcomes  # one used the code, one was refused
    # Replayed one after the other, the first on the tape wins, whichever won the recording.
    result = replay(tapes)
    assert result.differences == []
    assert (result.identical, result.grouped) == (3, 2)
    # The group's answers in the other order are the same group.
    calls[3].outcome, calls[4].outcome = calls[4].outcome, calls[3].outcome
    assert replay(tapes).differences == []


def test_a_group_that_replays_other_answers_is_reported() -> None:
    tapes = taped_race()
    winner = next(c for c in tapes[0].calls[3:] if not repr(c.outcome).startswith("('refused'"))
    winner.outcome = ("refused", "CodeRejected", "code_rejected")  # as if neither had got in
    result = replay(tapes)
    assert len(result.differences) == 1
    assert result.differences[0].startswith("portal 0, concurrent calls: recorded")


@pytest.mark.slow
def test_a_run_records_a_tape_that_replays(tmp_path: Path) -> None:
    """The recorder plugin hooks where the harness builds its portals: a moved builder once left
    every taped run failing, and the benchmark with it."""
    tape = tmp_path / "run.tape"
    assert record(tape, ["--report-dir", str(tmp_path), "-m", "TOTP_REPLAY"], quiet=True) == 0
    tapes: list[Tape] = pickle.loads(tape.read_bytes())
    assert tapes and all(tape.calls for tape in tapes)
    result = replay(tapes)
    assert result.calls == sum(len(tape.calls) for tape in tapes) and not result.differences
