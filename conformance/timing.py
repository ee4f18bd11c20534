"""When the portal saw a request, as far as the harness can know it: a span on the portal's clock.

A check at a time boundary ("accepted just before its lifetime", "refused just after") compares
an age with a limit. Over a network, on a busy machine, the harness cannot know the instant the
portal issued a code or read a submission: only that it was after the request went out and before
the answer came back. So each such action is timed as a :class:`Span` (the clock read before and
after, widened by the clock's own uncertainty), an age is a span too, and a verdict is given only
where the whole span is on one side of the limit. Otherwise the check is INCONCLUSIVE, never a
FAIL: a slow machine must not make a correct portal fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ninsho.conformance.errors import Inconclusive, RequirementFailed
from ninsho.conformance.interfaces import Clock

T = TypeVar("T")


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


def margin_for(base: float, *observed: Span) -> float:
    """How far from a boundary to aim: the target's margin, widened by twice the round trips
    measured in this very check, so a slow portal or a busy machine moves the aim, not the verdict."""
    return base + 2 * max((span.width for span in observed), default=0.0)


def during(clock: Clock, action: Callable[[], T]) -> tuple[T, Span]:
    """Run ``action``; the span in which the portal must have handled it."""
    slack = float(getattr(clock, "uncertainty", 0.0))
    before = clock.now()
    result = action()
    after = clock.now()
    return result, Span(before - slack, after + slack)


def age(issued: Span, used: Span) -> Span:
    """How old a thing issued in ``issued`` can have been when it was used in ``used``."""
    return Span(used.start - issued.end, used.end - issued.start)


def judge_lifetime(
    accepted: bool, seen_at_age: Span, lifetime: float, requirement: str, *, expect_accept: bool
) -> None:
    """A code submitted near its lifetime: accepted while younger than ``lifetime``, refused once
    older. FAIL only when the whole span of possible ages is on the wrong side."""
    if accepted is expect_accept:
        return
    if expect_accept:
        if seen_at_age.end >= lifetime:
            raise Inconclusive(
                f"refused, but the portal may have seen it {seen_at_age.end:.1f} s old (age {seen_at_age}),"
                f" past its {lifetime:g} s lifetime: the machine or the network was too slow to tell",
                requirement,
            )
        raise RequirementFailed(
            requirement, f"refused at age {seen_at_age}, before its {lifetime:g} s lifetime ended"
        )
    if seen_at_age.start <= lifetime:
        raise Inconclusive(
            f"accepted, but the portal may have seen it only {seen_at_age.start:.1f} s old (age {seen_at_age}),"
            f" within its {lifetime:g} s lifetime: the machine or the network was too slow to tell",
            requirement,
        )
    raise RequirementFailed(requirement, f"accepted at age {seen_at_age}, after its {lifetime:g} s lifetime")
