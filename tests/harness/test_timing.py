"""Honest under load: a check at a time boundary gives a verdict only on certain evidence.

The slow transport here is the embedded portal behind a driver that lets virtual time pass on
the way to the portal and back, as a busy machine or network does: the portal sees each request
later than the harness sent it. A correct portal must then read INCONCLUSIVE where the delay
could have pushed a code past its lifetime, never FAIL; a broken one must still FAIL.
"""

from __future__ import annotations

from typing import Any

import pytest

from ninsho.conformance.checks.test_codes import (
    test_email_code_accepted_just_before_lifetime as accepted_just_before,
)
from ninsho.conformance.checks.test_codes import (
    test_email_code_refused_just_after_lifetime as refused_just_after,
)
from ninsho.conformance.drivers.embedded import embedded_target, factory
from ninsho.conformance.errors import Inconclusive, RequirementFailed
from ninsho.conformance.interfaces import Clock, Driver
from ninsho.conformance.target import Target
from ninsho.conformance.timing import Span, age, during, judge_lifetime
from ninsho.spec.registry import load_profile


class SlowDriver:
    """Every action reaches the portal ``delay`` seconds after it is sent, and its answer comes
    back ``delay`` seconds later."""

    def __init__(self, inner: Driver, clock: Clock, delay: float) -> None:
        self._inner, self._clock, self._delay = inner, clock, delay
        self.name = inner.name

    def fresh(self) -> SlowDriver:
        return SlowDriver(self._inner.fresh(), self._clock, self._delay)

    def __getattr__(self, name: str) -> Any:
        action = getattr(self._inner, name)

        def slow(*args: Any, **kwargs: Any) -> Any:
            self._clock.advance(self._delay)
            try:
                return action(*args, **kwargs)
            finally:
                self._clock.advance(self._delay)

        return slow


def slow_portal(delay: float, *, lifetime: int | None = None) -> Target:
    """The embedded reference, judged by iimc; ``lifetime``: the portal's own (a fault) if given."""
    judged = load_profile("iimc")
    runs_with = judged if lifetime is None else judged.replace(email_otp_lifetime_seconds=lifetime)
    target = embedded_target(factory()(runs_with), judged)
    inner = target.new_driver
    target.new_driver = lambda: SlowDriver(inner(), target.clock, delay)
    return target


def test_a_quick_portal_is_judged() -> None:
    accepted_just_before(slow_portal(0.0))
    refused_just_after(slow_portal(0.0))


def test_a_slow_transport_makes_a_correct_portal_inconclusive_not_failed() -> None:
    """Two seconds each way: "just before" (lifetime − 1 s) reaches the portal past the lifetime,
    so the correct portal refuses. The harness cannot tell that from a short lifetime."""
    with pytest.raises(Inconclusive, match="too slow to tell") as raised:
        accepted_just_before(slow_portal(2.0))
    assert raised.value.requirement == "EMAIL_OTP_LIFETIME"


def test_a_little_latency_still_fails_a_portal_whose_codes_expire_early() -> None:
    """A lifetime of 300 s where iimc says 600, 0.05 s each way: refused while the code is
    certainly younger than 600 s, which is evidence."""
    with pytest.raises(RequirementFailed, match="before its 600 s lifetime"):
        accepted_just_before(slow_portal(0.05, lifetime=300))


def test_too_much_latency_cannot_tell_an_early_expiry_from_a_late_submission() -> None:
    """The same fault through 2 s each way: the refusal came at a possible age past 600 s, so
    it proves nothing. INCONCLUSIVE, with the ages, is the honest answer."""
    with pytest.raises(Inconclusive, match=r"age 60\d"):
        accepted_just_before(slow_portal(2.0, lifetime=300))


def test_a_portal_that_accepts_long_after_still_fails_through_a_slow_transport() -> None:
    with pytest.raises(RequirementFailed, match="after its 600 s lifetime"):
        refused_just_after(slow_portal(0.2, lifetime=6000))


class Ticking:
    """A clock read twice around an action that takes ``took`` seconds."""

    kind = "real"
    uncertainty = 0.5

    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def test_a_span_is_the_clock_before_and_after_widened_by_its_uncertainty() -> None:
    clock = Ticking()
    result, span = during(clock, lambda: clock.advance(3.0) or "done")
    assert result == "done" and span == Span(99.5, 103.5)
    assert age(Span(10.0, 11.0), Span(20.0, 22.0)) == Span(9.0, 12.0)


@pytest.mark.parametrize(
    ("accepted", "seen", "expect_accept", "outcome"),
    [
        (True, Span(598, 599), True, None),
        (False, Span(598, 599), True, RequirementFailed),
        (False, Span(598, 601), True, Inconclusive),
        (False, Span(601, 602), False, None),
        (True, Span(601, 602), False, RequirementFailed),
        (True, Span(599, 602), False, Inconclusive),
    ],
)
def test_the_verdict_needs_the_whole_span_on_one_side(
    accepted: bool, seen: Span, expect_accept: bool, outcome: type[Exception] | None
) -> None:
    if outcome is None:
        judge_lifetime(accepted, seen, 600, "EMAIL_OTP_LIFETIME", expect_accept=expect_accept)
    else:
        with pytest.raises(outcome):
            judge_lifetime(accepted, seen, 600, "EMAIL_OTP_LIFETIME", expect_accept=expect_accept)
