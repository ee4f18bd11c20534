"""When the portal saw a request, as far as the harness can know it: a span on the portal's clock.

A check at a time boundary ("accepted just before its lifetime", "still locked just before the
lockout ends", "trusted no longer once the trust has expired", "the idle session has ended")
compares an age with a limit. Over a network, on a busy machine, the harness cannot know the
instant the portal issued a code, locked an account or read a submission: only that it was after
the request went out and before the answer came back. So each such action is timed as a
:class:`Span` (the clock read before and after, widened by the clock's own uncertainty, which for
a real clock is the ``Date`` header's second and the round trip that measured it), an age is a
span too, and a verdict is given only where the whole span is on one side of the limit
(:func:`judge_boundary`). Otherwise the check is INCONCLUSIVE, never a FAIL: a slow machine must
not make a correct portal fail.

Where to aim is the other half. Every span :func:`during` measures goes into its run's
:class:`RoundTrips` (one per run clock, shared by every check of the run), and :func:`margin_for`
keeps a check away from its boundary by the target's margin plus twice the widest round trip
seen lately in the run or in the check itself: when the machine gets busy, the aim moves, so
that fewer verdicts need to be INCONCLUSIVE; the verdict itself never depends on the aim.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ninsho.conformance.errors import Inconclusive, RequirementFailed
from ninsho.conformance.interfaces import Clock

T = TypeVar("T")

RECENT = 32  # how many of the run's latest round trips set the margin: it follows the load


@dataclass(frozen=True)
class Span:
    """No earlier than ``start``, no later than ``end`` (portal seconds)."""

    start: float
    end: float

    def __str__(self) -> str:
        return f"{self.start:.1f}…{self.end:.1f} s"

    @property
    def width(self) -> float:
        return self.end - self.start


class RoundTrips:
    """The widths of the latest spans measured in one run, from every check's thread."""

    def __init__(self) -> None:
        self._widths: deque[float] = deque(maxlen=RECENT)
        self._lock = threading.Lock()

    def add(self, width: float) -> None:
        with self._lock:
            self._widths.append(width)

    @property
    def widest(self) -> float:
        with self._lock:
            return max(self._widths, default=0.0)


_runs: weakref.WeakKeyDictionary[object, RoundTrips] = weakref.WeakKeyDictionary()
_runs_lock = threading.Lock()


def round_trips(clock: Clock) -> RoundTrips:
    """The ledger of the run whose clock ``clock`` is, or sees through: each target's
    ``transcript.RecordingClock`` wraps the one clock of the run (``inner``), so all checks of a
    run share one ledger, and two runs (two embedded portals) never do."""
    run: object = clock
    while getattr(run, "inner", None) is not None:
        run = run.inner  # type: ignore[attr-defined]
    with _runs_lock:
        ledger = _runs.get(run)
        if ledger is None:
            ledger = _runs[run] = RoundTrips()
        return ledger


def margin_for(clock: Clock, base: float, *observed: Span) -> float:
    """How far from a boundary to aim: the target's margin, widened by twice the widest round
    trip among ``observed`` (this check's own) and the run's latest, so a slow portal or a busy
    machine moves the aim, not the verdict."""
    widest = max((span.width for span in observed), default=0.0)
    return base + 2 * max(widest, round_trips(clock).widest)


def during(clock: Clock, action: Callable[[], T], *, one_request: bool = True) -> tuple[T, Span]:
    """Run ``action``; the span in which the portal must have handled it. Its width is a round
    trip of the run (:class:`RoundTrips`) unless ``one_request`` is False: an action that also
    waits for a mail would count the mail's delay as the network's."""
    slack = float(getattr(clock, "uncertainty", 0.0))
    before = clock.now()
    result = action()
    after = clock.now()
    span = Span(before - slack, after + slack)
    if one_request:
        round_trips(clock).add(span.width)
    return result, span


def wait_until(clock: Clock, at: float) -> None:
    """Let the portal's clock reach ``at`` (nothing when it already has): an aim is a time, so
    the actions between the event and the wait do not push it later."""
    left = at - clock.now()
    if left > 0:
        clock.advance(left)


def age(issued: Span, used: Span) -> Span:
    """How old a thing issued in ``issued`` can have been when it was used in ``used``."""
    return Span(used.start - issued.end, used.end - issued.start)


@dataclass(frozen=True)
class Boundary:
    """A limit in time, in the words of its verdicts: what the portal does while it holds
    (``held``) and once it has passed (``passed``), and the limit's name."""

    name: str
    held: str
    passed: str


LIFETIME = Boundary("lifetime", held="accepted", passed="refused")
LOCKOUT = Boundary("lockout duration", held="still locked", passed="unlocked")
TRUST = Boundary(
    '"Trust this browser" duration', held="the second factor skipped", passed="the second factor asked for"
)
IDLE = Boundary("session.idle_seconds", held="the session still open", passed="the session ended")
FIRST_FACTOR = Boundary(
    "session.first_factor_seconds", held="the session still open", passed="the session ended"
)
ABSOLUTE = Boundary("session.absolute_seconds", held="the session still open", passed="the session ended")


def judge_boundary(
    held: bool,
    seen_at_age: Span,
    limit: float,
    requirement: str,
    boundary: Boundary,
    *,
    expect_held: bool,
    detail: str = "",
) -> None:
    """What was seen at ``seen_at_age`` after the event: ``held`` (the code accepted, the lock
    on, the trust or the session alive), which the portal must do while the age is below
    ``limit`` and must stop doing once it has reached it. FAIL only when the whole span of
    possible ages is on the wrong side; otherwise INCONCLUSIVE, with the ages."""
    if held is expect_held:
        return
    b, extra = boundary, f" ({detail})" if detail else ""
    if expect_held:
        if seen_at_age.end >= limit:
            raise Inconclusive(
                f"{b.passed}, but the portal may have seen it {seen_at_age.end:.1f} s old (age {seen_at_age}),"
                f" past its {limit:g} s {b.name}{extra}: the machine or the network was too slow to tell",
                requirement,
            )
        raise RequirementFailed(
            requirement, f"{b.passed} at age {seen_at_age}, before its {limit:g} s {b.name} ended{extra}"
        )
    if seen_at_age.start < limit:
        raise Inconclusive(
            f"{b.held}, but the portal may have seen it only {seen_at_age.start:.1f} s old (age {seen_at_age}),"
            f" within its {limit:g} s {b.name}{extra}: the machine or the network was too slow to tell",
            requirement,
        )
    raise RequirementFailed(
        requirement, f"{b.held} at age {seen_at_age}, after its {limit:g} s {b.name}{extra}"
    )


def judge_lifetime(
    accepted: bool, seen_at_age: Span, lifetime: float, requirement: str, *, expect_accept: bool
) -> None:
    """A code submitted near its lifetime: accepted while younger than ``lifetime``, refused once
    older (:func:`judge_boundary`)."""
    judge_boundary(accepted, seen_at_age, lifetime, requirement, LIFETIME, expect_held=expect_accept)
