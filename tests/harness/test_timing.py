"""Honest under load: a check at a time boundary gives a verdict only on certain evidence.

The slow transport here is the embedded portal behind a driver that lets virtual time pass on
the way to the portal and back, as a busy machine or network does: the portal sees each request
later than the harness sent it. A correct portal must then read INCONCLUSIVE where the delay
could have pushed a code past its lifetime, never FAIL; a broken one must still FAIL.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class Latency:
    """Seconds each way: ``delay`` for the first ``calls`` actions of a check, then ``later`` (a
    machine that gets busy half-way through)."""

    delay: float
    later: float | None = None
    calls: int = 10**6
    made: int = 0

    def next(self) -> float:
        self.made += 1
        return self.delay if self.made <= self.calls or self.later is None else self.later


class SlowDriver:
    """Every action reaches the portal a latency after it is sent, and its answer comes back a
    latency later; all browsers of a check share one :class:`Latency`."""

    def __init__(self, inner: Driver, clock: Clock, latency: Latency) -> None:
        self._inner, self._clock, self._latency = inner, clock, latency
        self.name = inner.name

    def fresh(self) -> SlowDriver:
        return SlowDriver(self._inner.fresh(), self._clock, self._latency)

    def __getattr__(self, name: str) -> Any:
        action = getattr(self._inner, name)

        def slow(*args: Any, **kwargs: Any) -> Any:
            delay = self._latency.next()
            self._clock.advance(delay)
            try:
                return action(*args, **kwargs)
            finally:
                self._clock.advance(delay)

        return slow


def slow_portal(latency: float | Latency, *, lifetime: int | None = None) -> Target:
    """The embedded reference, judged by iimc; ``lifetime``: the portal's own (a fault) if given."""
    judged = load_profile("iimc")
    runs_with = judged if lifetime is None else judged.replace(email_otp_lifetime_seconds=lifetime)
    target = embedded_target(factory()(runs_with), judged)
    inner = target.new_driver
    shared = latency if isinstance(latency, Latency) else Latency(latency)
    target.new_driver = lambda: SlowDriver(inner(), target.clock, shared)
    return target


# In "just before", the code is issued by the check's 6th action (enrolment: login, Send,
# Confirm, logout; then login, request); the 7th and 8th (a fresh login, the submission) come after.
ISSUED_BY = 6


def test_a_quick_portal_is_judged() -> None:
    accepted_just_before(slow_portal(0.0))
    refused_just_after(slow_portal(0.0))


def test_a_steadily_slow_transport_moves_the_aim_and_a_correct_portal_passes() -> None:
    """Two seconds each way, all along: the round trips the check measures widen its margin, so
    "just before" still reaches the portal before the lifetime ends."""
    accepted_just_before(slow_portal(2.0))
    refused_just_after(slow_portal(2.0))


def test_a_machine_that_gets_busy_mid_check_makes_a_correct_portal_inconclusive_not_failed() -> None:
    """Quick while the code is issued, two seconds each way after: the submission reaches the
    portal past the lifetime, so the correct portal refuses. The harness cannot tell that from a
    short lifetime, and says so."""
    with pytest.raises(Inconclusive, match="too slow to tell") as raised:
        accepted_just_before(slow_portal(Latency(0.05, later=2.0, calls=ISSUED_BY)))
    assert raised.value.requirement == "EMAIL_OTP_LIFETIME"


def test_a_little_latency_still_fails_a_portal_whose_codes_expire_early() -> None:
    """A lifetime of 300 s where iimc says 600, 0.05 s each way: refused while the code is
    certainly younger than 600 s, which is evidence."""
    with pytest.raises(RequirementFailed, match="before its 600 s lifetime"):
        accepted_just_before(slow_portal(0.05, lifetime=300))


def test_a_busy_machine_cannot_tell_an_early_expiry_from_a_late_submission() -> None:
    """The same fault when the machine gets busy after the code is issued: the refusal came at a
    possible age past 600 s, so it proves nothing. INCONCLUSIVE, with the ages."""
    with pytest.raises(Inconclusive, match=r"past its 600 s lifetime"):
        accepted_just_before(slow_portal(Latency(0.05, later=2.0, calls=ISSUED_BY), lifetime=300))


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
