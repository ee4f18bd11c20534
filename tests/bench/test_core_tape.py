"""The tape behind item 2's yardstick replays a portal's calls faithfully, and says when not."""

from __future__ import annotations

import re

import pytest

from benchmarks.core_tape import Recorder, Tape, replay
from reference.clocks import VirtualClock
from reference.core.errors import NinshoError
from reference.spec import load_profile


def taped_flow() -> list[Tape]:
    """A short life of one embedded portal: a user, a login, a refused and an accepted code."""
    recorder = Recorder()
    embedded = recorder.embedded_portal(load_profile("iimc"))
    portal = embedded.portal
    portal.add_user("u1", "correct horse battery")
    session = portal.login("u1", "correct horse battery").session
    portal.start_email_registration(session, "u1@example.com")
    mail = embedded.outbox.latest("u1@example.com")
    assert mail is not None
    code = re.findall(r"\b\d{8}\b", mail.body)[0]
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
