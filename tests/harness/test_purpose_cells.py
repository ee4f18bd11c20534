"""The cross-purpose matrix (conformance/probes/purposes.py) can fail in its app cells too, and
the failure-count probes tell a shared count from a per-login one, in process.

The registered faults cover the mailed codes (``code-any-purpose``) and the registered app's code
at "Register" (``register-without-code``); a portal whose second factor also takes a code of the
pending secret has no registered fault, so it is built here from the same public seam.
"""

from __future__ import annotations

import pytest

from ninsho.conformance.drivers.embedded import embedded_target
from ninsho.conformance.probes.enrol import enrol_email
from ninsho.conformance.probes.failure_count import failures_over_fresh_logins, failures_over_sessions
from ninsho.conformance.probes.purposes import CELLS, Kind, offer_in_place
from ninsho.conformance.target import Target
from ninsho.reference.core.errors import AccountLocked, CodeRejected
from ninsho.reference.core.rules import Rules
from ninsho.reference.core.state import AccountState, AppRegistration
from ninsho.reference.embedded import embedded_portal
from ninsho.reference.faults import FAULTS, Fault
from ninsho.spec.registry import load_profile

PROFILE = load_profile("iimc")


class _PendingSecretLogsIn(Rules):
    """The second factor by app also takes a code of the secret shown but not yet registered."""

    def verify_totp(
        self, state: AccountState, code: str, now: float
    ) -> AppRegistration | CodeRejected | AccountLocked:
        pending = state.pending_app_secret_hex
        if pending is not None and self.totp_step(bytes.fromhex(pending), code, now) is not None:
            self.record_success(state)
            return AppRegistration("pending", pending, now)
        return super().verify_totp(state, code, now)


def target(fault: Fault | None = None) -> Target:
    embedded = fault.build(PROFILE) if fault is not None else embedded_portal(PROFILE, seed=7)
    return embedded_target(embedded, PROFILE)


def test_the_matrix_holds_every_kind_at_every_other_place() -> None:
    assert len(CELLS) == len(Kind) * (len(Kind) - 1)
    assert {(k, p) for k, p in CELLS} == {(k, p) for k in Kind for p in Kind if k is not p}


def test_a_pending_secret_that_logs_in_is_caught() -> None:
    assert offer_in_place(target(), Kind.APP_REGISTRATION, Kind.APP_LOGIN).answer.refused
    faulty = Fault("a pending secret's code passes the second factor", (), rules=_PendingSecretLogsIn)
    assert offer_in_place(target(faulty), Kind.APP_REGISTRATION, Kind.APP_LOGIN).answer.ok


def test_a_register_that_takes_any_code_takes_the_registered_apps() -> None:
    assert offer_in_place(target(), Kind.APP_LOGIN, Kind.APP_REGISTRATION).answer.refused
    faulty = FAULTS["register-without-code"]
    assert offer_in_place(target(faulty), Kind.APP_LOGIN, Kind.APP_REGISTRATION).answer.ok


@pytest.mark.parametrize(
    ("fault", "let_in_after_fresh_logins"), [(None, False), ("count-reset-at-login", True)]
)
def test_a_count_reset_at_login_is_caught_by_the_fresh_logins(
    fault: str | None, let_in_after_fresh_logins: bool
) -> None:
    """The reset at login lets the right code in after the guesses of fresh logins; taking turns
    in two sessions opened before the guesses, it cannot tell: each probe has its own fault."""
    made = FAULTS[fault] if fault is not None else None
    fresh = target(made)
    assert failures_over_fresh_logins(fresh, enrol_email(fresh)).ok is let_in_after_fresh_logins
    turns = target(made)
    assert failures_over_sessions(turns, enrol_email(turns)).refused
