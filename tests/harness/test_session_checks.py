"""The session checks of issue #14 against portals wrong in ways the registered faults are not.

reference/faults.py has one fault per requirement, and tests/harness/test_faulty_portals.py
proves each check catches it. These are the other ways a portal can get the same rule wrong,
built here through the core's public seams and run in process against the check alone: a
portal that gives a new token but keeps the old one alive, one whose confirmed reset leaves
the other sessions open, and a driver that cannot copy a session (NOT_APPLICABLE, never ERROR
or FAIL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from ninsho.conformance.checks.test_sessions import (
    test_a_confirmed_reset_ends_the_other_sessions as reset_ends_others,
)
from ninsho.conformance.checks.test_sessions import (
    test_a_registered_factor_ends_the_other_setup_sessions as factor_ends_setups,
)
from ninsho.conformance.checks.test_sessions import (
    test_the_second_factor_renews_the_session_token as token_renewed,
)
from ninsho.conformance.drivers.embedded import embedded_target
from ninsho.conformance.drivers.inprocess import InProcessDriver
from ninsho.conformance.errors import NotSupported, RequirementFailed
from ninsho.conformance.target import Target
from ninsho.reference.core.portal import Portal
from ninsho.reference.core.stages import Action
from ninsho.reference.core.state import AccountState, Session
from ninsho.reference.faults import Fault
from ninsho.spec.registry import load_profile

T = TypeVar("T")
PROFILE = load_profile("iimc")


class _OldTokenLives(Portal):
    """Gives the session a new token at the second factor, and keeps the old one too, still
    waiting for the second factor: the copy reaches no settings, but can still act."""

    def renewed_token(self, state: AccountState, s: Session) -> str | None:
        old = {k: v for k, v in state.sessions.items() if v is s}
        token = super().renewed_token(state, s)
        for key in old:
            state.sessions[key] = Session(s.stage, s.created_at, s.last_seen)  # the old key, another session
        return token


class _ResetLeavesOtherSessions(Portal):
    """A confirmed reset leaves the account's other sessions as they were."""

    def transaction(self, action: Action, login_id: str, change: Callable[[AccountState], T]) -> T:
        if action is not Action.CONFIRM_RESET:
            return super().transaction(action, login_id, change)

        def keeping(state: AccountState) -> T:
            before = dict(state.sessions)
            outcome = change(state)
            for key, s in before.items():  # the sessions the reset ended come back
                state.sessions.setdefault(key, s)
            return outcome

        return super().transaction(action, login_id, keeping)


def portal_with(portal: type[Portal]) -> Target:
    return embedded_target(Fault("a test's own", (), portal=portal).build(PROFILE), PROFILE)


def test_a_new_token_with_the_old_one_still_alive_fails() -> None:
    target = portal_with(_OldTokenLives)
    with pytest.raises(RequirementFailed, match=r"SESSION_TOKEN_RENEWED.*still lives.*mailed"):
        token_renewed(target)
    assert target.measured["copy_taken_after_the_password"] == "refused (not_permitted)"
    assert target.measured["copy_went_on_to_the_second_factor"] == "asked for a mailed code: accepted"


def test_a_reset_that_leaves_the_other_sessions_open_fails() -> None:
    target = portal_with(_ResetLeavesOtherSessions)
    with pytest.raises(RequirementFailed, match=r"STALE_SESSIONS_END.*before the reset"):
        reset_ends_others(target)
    factor_ends_setups(portal_with(_ResetLeavesOtherSessions))  # a registered factor still ends them


class _NoCopies(InProcessDriver):
    """A driver that cannot copy a session, as a driver written before the capability was."""

    copy_session = None  # type: ignore[assignment]

    def fresh(self) -> _NoCopies:
        return _NoCopies(self.portal)


def test_a_driver_that_cannot_copy_a_session_makes_the_check_not_applicable() -> None:
    embedded = Fault("the reference", ()).build(PROFILE)
    target = embedded_target(embedded, PROFILE)
    target.new_driver = lambda: _NoCopies(embedded.portal)
    with pytest.raises(NotSupported, match="cannot copy a session's token") as raised:
        token_renewed(target)
    assert raised.value.verdict.value == "NOT_APPLICABLE"
