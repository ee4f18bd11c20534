"""Honest under load: a check at a time boundary gives a verdict only on certain evidence.

The slow transport here is the embedded portal behind a driver that lets virtual time pass on
the way to the portal and back, as a busy machine or network does: the portal sees each request
later than the harness sent it. For each kind of boundary (a code's lifetime, the lockout's end,
the "Trust this browser" duration, the session's limits) a correct portal must read INCONCLUSIVE
where the delay could have pushed the submission past the limit, never FAIL; a broken one must
still FAIL. Nothing here waits: the delays are virtual.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ninsho.conformance.checks.test_codes import (
    test_email_code_accepted_just_before_lifetime as accepted_just_before,
)
from ninsho.conformance.checks.test_codes import (
    test_email_code_refused_just_after_lifetime as refused_just_after,
)
from ninsho.conformance.checks.test_codes import test_lockout_duration as lockout_duration
from ninsho.conformance.checks.test_codes import test_lockout_threshold as lockout_threshold
from ninsho.conformance.checks.test_flows import test_trust_this_browser as trust_this_browser
from ninsho.conformance.checks.test_sessions import (
    test_a_busy_session_ends_at_its_absolute_lifetime as busy_session_ends,
)
from ninsho.conformance.checks.test_sessions import test_first_factor_session_expires as first_factor_expires
from ninsho.conformance.checks.test_sessions import test_idle_session_expires as idle_session_expires
from ninsho.conformance.checks.test_totp import test_totp_window as totp_window
from ninsho.conformance.drivers.embedded import embedded_target, factory
from ninsho.conformance.errors import Inconclusive, RequirementFailed
from ninsho.conformance.interfaces import Clock, Driver
from ninsho.conformance.target import Target
from ninsho.conformance.timing import (
    ABSOLUTE,
    FIRST_FACTOR,
    IDLE,
    LIFETIME,
    LOCKOUT,
    RECENT,
    TRUST,
    Boundary,
    Span,
    age,
    during,
    judge_boundary,
    judge_lifetime,
    margin_for,
    round_trips,
)
from ninsho.conformance.transcript import Transcript
from ninsho.spec.registry import load_profile


@dataclass
class Latency:
    """Seconds each way: ``delay`` until the machine gets busy, then ``later``. It gets busy
    after the first ``calls`` actions of a check, or (``after``) once the portal has answered
    the given action that many times; all browsers of a check share one Latency."""

    delay: float
    later: float | None = None
    calls: int = 10**6
    after: tuple[str, int] | None = None
    made: int = 0
    answered: Counter[str] = field(default_factory=Counter)

    def next(self) -> float:
        self.made += 1
        if self.later is None:
            return self.delay
        if self.after is not None:
            action, times = self.after
            return self.later if self.answered[action] >= times else self.delay
        return self.delay if self.made <= self.calls else self.later


class SlowDriver:
    """Every action reaches the portal a latency after it is sent, and its answer comes back a
    latency later."""

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
                self._latency.answered[name] += 1
                self._clock.advance(delay)

        return slow


def slow_portal(latency: float | Latency, **portal_has: int) -> Target:
    """The embedded reference, judged by iimc; ``portal_has``: the portal's own profile values
    where they differ from iimc's (a fault), e.g. ``lockout_duration_seconds=300``."""
    judged = load_profile("iimc")
    target = embedded_target(factory()(judged.replace(**portal_has)), judged)
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
        accepted_just_before(slow_portal(0.05, email_otp_lifetime_seconds=300))


def test_a_busy_machine_cannot_tell_an_early_expiry_from_a_late_submission() -> None:
    """The same fault when the machine gets busy after the code is issued: the refusal came at a
    possible age past 600 s, so it proves nothing. INCONCLUSIVE, with the ages."""
    with pytest.raises(Inconclusive, match=r"past its 600 s lifetime"):
        accepted_just_before(
            slow_portal(Latency(0.05, later=2.0, calls=ISSUED_BY), email_otp_lifetime_seconds=300)
        )


def test_a_portal_that_accepts_long_after_still_fails_through_a_slow_transport() -> None:
    with pytest.raises(RequirementFailed, match="after its 600 s lifetime"):
        refused_just_after(slow_portal(0.2, email_otp_lifetime_seconds=6000))


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


# The lockout: iimc locks at the 10th wrong code, for 900 s. "Busy once locked": quick until the
# portal has answered the 10th code submission, two seconds each way after.
def busy_once_locked() -> Latency:
    return Latency(0.05, later=2.0, after=("submit_email_code", 10))


def test_the_lockout_is_judged_through_quick_and_steadily_slow_transports() -> None:
    lockout_duration(slow_portal(0.0))
    lockout_duration(slow_portal(2.0))


def test_a_machine_busy_once_locked_makes_a_correct_lockout_inconclusive_not_failed() -> None:
    """The try "just before the end" needs a logout, a login and a code first: at two seconds
    each way it reaches the portal after the 900 s, which correctly lets it in."""
    with pytest.raises(Inconclusive, match=r"unlocked, but .* past its 900 s lockout duration") as raised:
        lockout_duration(slow_portal(busy_once_locked()))
    assert raised.value.requirement == "LOCKOUT_DURATION"


def test_a_lock_that_lifts_early_or_late_still_fails_through_a_slow_transport() -> None:
    with pytest.raises(
        RequirementFailed, match=r"unlocked at age .* before its 900 s lockout duration ended"
    ):
        lockout_duration(slow_portal(0.05, lockout_duration_seconds=300))
    with pytest.raises(RequirementFailed, match=r"still locked at age .* after its 900 s lockout duration"):
        lockout_duration(slow_portal(2.0, lockout_duration_seconds=3000))


# The idle session: iimc ends it after 1800 s without a request. The check's first two
# settings() (one for each of its two sessions) are the requests the idle times count from;
# "busy" begins once both are answered.
def busy_once_idle() -> Latency:
    return Latency(0.05, later=2.0, after=("settings", 2))


def test_the_idle_session_is_judged_through_quick_and_steadily_slow_transports() -> None:
    idle_session_expires(slow_portal(0.0))
    idle_session_expires(slow_portal(2.0))


def test_a_machine_busy_while_the_session_idles_makes_a_correct_portal_inconclusive() -> None:
    with pytest.raises(Inconclusive, match=r"the session ended, but .* past its 1800 s session.idle_seconds"):
        idle_session_expires(slow_portal(busy_once_idle()))


def test_an_idle_session_that_ends_early_or_late_still_fails_through_a_slow_transport() -> None:
    with pytest.raises(RequirementFailed, match=r"the session ended at age .* before its 1800 s"):
        idle_session_expires(slow_portal(0.05, session_idle_seconds=900))
    with pytest.raises(RequirementFailed, match=r"the session still open at age .* after its 1800 s"):
        idle_session_expires(slow_portal(2.0, session_idle_seconds=3600))


# Past-the-limit checks (the first-factor session, the trust) aim from the end of the span
# that started the limit, so however slow the transport, the portal sees the request past the
# limit: a correct portal passes, a portal whose limit is too long fails.
@pytest.mark.parametrize(
    "latency",
    [lambda: 0.0, lambda: 2.0, lambda: Latency(0.05, later=3.0, calls=8)],
    ids=["quick", "steadily slow", "busy mid-check"],
)
def test_past_the_limit_a_correct_portal_passes_through_any_transport(
    latency: Callable[[], float | Latency],
) -> None:
    first_factor_expires(slow_portal(latency()))
    trust_this_browser(slow_portal(latency()))


def test_past_the_limit_a_limit_too_long_still_fails_through_a_slow_transport() -> None:
    with pytest.raises(RequirementFailed, match=r"the session still open at age .* after its 600 s"):
        first_factor_expires(slow_portal(2.0, session_first_factor_seconds=1200))
    month = load_profile("iimc").trust_browser_duration_seconds
    with pytest.raises(
        RequirementFailed, match=r"the second factor skipped at age .*\(the browser got authenticated\)"
    ):
        trust_this_browser(slow_portal(2.0, trust_browser_duration_seconds=2 * month))


# The absolute lifetime: iimc ends a session 43,200 s after its login, however busy; the check
# keeps it busy with a request every idle time (1800 s) less the margin, 25 of them.
@dataclass
class BusyNearTheEnd(Latency):
    """Quick until the portal's clock is within a minute of the absolute lifetime, then slow:
    the request "just before" it reaches the portal after it."""

    now: Callable[[], float] | None = None
    slow_from: float = 0.0

    def next(self) -> float:
        late = self.now is not None and self.now() >= self.slow_from and self.later is not None
        return self.later if late and self.later is not None else self.delay


def busy_near_the_end(seconds_before: float) -> Target:
    latency = BusyNearTheEnd(0.05, later=2.0)
    target = slow_portal(latency)
    latency.now = target.clock.now
    latency.slow_from = target.clock.now() + load_profile("iimc").session_absolute_seconds - seconds_before
    return target


def test_the_absolute_lifetime_is_judged_through_quick_and_steadily_slow_transports() -> None:
    quick = slow_portal(0.0)
    busy_session_ends(quick)
    assert quick.measured["requests"] == 27  # after the second factor, 24 to keep it busy, 2 judged
    busy_session_ends(slow_portal(2.0))


def test_a_machine_busy_near_the_absolute_lifetime_makes_a_correct_portal_inconclusive() -> None:
    """Slow from 20 s before the end: the request "just before" it reaches the portal after it."""
    with pytest.raises(
        Inconclusive, match=r"the session ended, but .* past its 43200 s session.absolute_seconds"
    ) as raised:
        busy_session_ends(busy_near_the_end(20))
    assert raised.value.requirement == "SESSION_ABSOLUTE_LIFETIME"


def test_a_request_the_machine_delays_past_the_idle_time_is_no_failure() -> None:
    """Slow from a minute before the end: the last request that keeps the session busy reaches
    the portal after session.idle_seconds, which correctly ends the session first."""
    with pytest.raises(Inconclusive, match=r"past its 1800 s session.idle_seconds.*which limit ended it"):
        busy_session_ends(busy_near_the_end(60))


def test_an_absolute_lifetime_too_short_or_too_long_still_fails_through_a_slow_transport() -> None:
    with pytest.raises(
        RequirementFailed, match=r"the session ended at age .* before its 43200 s session.absolute_seconds"
    ):
        busy_session_ends(slow_portal(0.05, session_absolute_seconds=21600))
    with pytest.raises(
        RequirementFailed,
        match=r"the session still open at age .* after its 43200 s session.absolute_seconds",
    ):
        busy_session_ends(slow_portal(2.0, session_absolute_seconds=2 * 43200))


def test_a_session_only_the_idle_time_ends_fails_however_it_is_kept_busy() -> None:
    """The review's portal: a request every 29 minutes kept a session open for 48 hours."""
    with pytest.raises(RequirementFailed, match=r"still open at age .* after its 43200 s"):
        busy_session_ends(slow_portal(0.05, session_absolute_seconds=48 * 3600))


@pytest.mark.parametrize(
    "boundary", [LIFETIME, LOCKOUT, TRUST, IDLE, FIRST_FACTOR, ABSOLUTE], ids=lambda b: b.name
)
@pytest.mark.parametrize(
    ("held", "seen", "expect_held", "outcome"),
    [
        (True, Span(98, 99), True, None),
        (False, Span(98, 99), True, RequirementFailed),
        (False, Span(98, 101), True, Inconclusive),
        (False, Span(101, 102), False, None),
        (True, Span(101, 102), False, RequirementFailed),
        (True, Span(99, 102), False, Inconclusive),
        (True, Span(100, 100), False, RequirementFailed),  # held at the limit itself: past it
        (False, Span(100, 100), True, Inconclusive),
    ],
)
def test_every_kind_of_boundary_needs_the_whole_span_on_one_side(
    boundary: Boundary, held: bool, seen: Span, expect_held: bool, outcome: type[Exception] | None
) -> None:
    if outcome is None:
        judge_boundary(held, seen, 100, "R", boundary, expect_held=expect_held)
        return
    with pytest.raises(outcome) as raised:
        judge_boundary(held, seen, 100, "R", boundary, expect_held=expect_held)
    assert boundary.name in str(raised.value) and str(seen) in str(raised.value)


def test_the_margin_grows_with_the_round_trips_of_the_run_and_follows_the_load() -> None:
    """Spans measured in one check widen the margin of every check of the same run (whose
    targets see the run's clock through their own RecordingClock), not of another run's."""
    run = slow_portal(1.5)
    shared = run.clock.inner  # type: ignore[attr-defined]  # the run's clock, under the check's own
    other_check = dataclasses.replace(run, clock=shared, transcript=Transcript())
    other_run = slow_portal(0.0)
    assert other_check.clock is not run.clock and other_check.clock.inner is shared  # type: ignore[attr-defined]
    assert margin_for(run.clock, 1.0) == 1.0
    during(run.clock, run.browser().settings)  # 1.5 s each way: a 3 s round trip
    assert margin_for(other_check.clock, 1.0) == pytest.approx(7.0)
    assert margin_for(other_run.clock, 1.0) == 1.0
    assert margin_for(other_run.clock, 1.0, Span(0.0, 2.0)) == 5.0  # the check's own spans count too
    for _ in range(RECENT):
        during(run.clock, lambda: None)  # the machine is quick again
    assert margin_for(run.clock, 1.0) == 1.0
    during(run.clock, lambda: run.clock.advance(60.0), one_request=False)
    assert margin_for(run.clock, 1.0) == 1.0, "a wait for a mail is no round trip"
    assert round_trips(other_check.clock) is round_trips(run.clock)


def test_a_totp_step_is_a_boundary_too() -> None:
    """The window probe counts each offset from the step it sent the code in: two seconds each
    way leave it in that step, fourteen carry it into the next, and the probe says it cannot
    tell rather than measure a window one step off."""
    totp_window(slow_portal(2.0))
    with pytest.raises(Inconclusive, match="may have reached the portal in another") as raised:
        totp_window(slow_portal(14.0))
    assert raised.value.requirement == "TOTP_WINDOW"


def test_a_code_that_may_have_expired_on_the_way_proves_no_early_lock() -> None:
    """Nine wrong codes, then the right one: at 40 s each way the right one reaches the portal
    past its 600 s lifetime, and its refusal is the expiry's, not an early lock. With little
    latency the same refusal (a portal that locks after 5) is a FAIL."""
    with pytest.raises(Inconclusive, match="past its 600 s lifetime") as raised:
        lockout_threshold(slow_portal(Latency(0.05, later=40.0, after=("request_email_code", 1))))
    assert raised.value.requirement == "LOCKOUT_THRESHOLD"
    lockout_threshold(slow_portal(2.0))
    with pytest.raises(RequirementFailed, match="locked before 10 failures"):
        lockout_threshold(slow_portal(0.05, lockout_threshold=5))
