"""Measuring the accepted TOTP window, within the lockout budget.

Replay protection refuses any step not newer than the last accepted one, so the probe walks
from the past to the future: a refused far-past offset, then every offset up to 0, then the
future until the first refusal. Against a window of ±k that is 2k+3 submissions with two
refusals, far below any lockout threshold. Only when the far-past probe is *accepted* (a window
wider than the profile) does it spend a second enrolment to find how far the past side goes.

A portal may re-centre its window on each accepted code (RFC 6238 §6 drift compensation:
privacyIDEA stores the matched step as the token's ``timeShift``). Walked on one token, the future
side then follows the walk and never ends. When the operator enrols (``interfaces.Enroller``),
an enrolment costs nothing, so each future offset is tried on a fresh token of its own: the
window measured is the one a code meets, not the drift.

A step is a time boundary too: each submission is timed (timing.during), and one that may have
reached the portal in another step than the one its offset was counted from makes the probe
INCONCLUSIVE rather than a window one step wider or narrower than the portal's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ninsho.conformance.errors import Inconclusive
from ninsho.conformance.probes.enrol import (
    code_for_step,
    enrol_app,
    settle_in_step,
    step_of,
    wait_for_step,
)
from ninsho.conformance.target import Target
from ninsho.conformance.timing import during

EXTRA_STEPS = 4  # how far past the profile's window a wider window is followed


@dataclass
class WindowMeasurement:
    results: dict[int, bool] = field(default_factory=dict)  # offset → accepted
    submissions: int = 0
    past_limit_hit: bool = False  # the farthest past offset probed was accepted
    future_limit_hit: bool = False

    @property
    def accepted(self) -> list[int]:
        return sorted(o for o, ok in self.results.items() if ok)

    def describe(self) -> str:
        if not self.accepted:
            return "no offset accepted"
        low, high = self.accepted[0], self.accepted[-1]
        low_text = f"≤{low:+d}" if self.past_limit_hit else f"{low:+d}"
        high_text = f"≥{high:+d}" if self.future_limit_hit else f"{high:+d}"
        gaps = [o for o in range(low, high + 1) if not self.results.get(o, False)]
        return f"accepted {low_text}…{high_text}" + (f" (refused inside: {gaps})" if gaps else "")


class _Prober:
    def __init__(self, target: Target, measurement: WindowMeasurement, past_limit: int) -> None:
        """Enrol, then wait until even the farthest past offset is newer than the registration."""
        self.target, self.m = target, measurement
        self.enrolled = enrol_app(target)
        wait_for_step(target, self.enrolled.registered_step + past_limit + 1)
        self.logged_in = False

    def attempt(self, offset: int) -> bool:
        driver, totp = self.enrolled.driver, self.enrolled.totp
        assert totp is not None
        if not self.logged_in:
            login = driver.login(self.enrolled.account)
            self.logged_in = login.ok and login.stage == "first_factor"
        settle_in_step(self.target, needed_seconds=2 * self.target.margin_seconds)
        step = step_of(self.target)
        code = code_for_step(totp, step + offset)
        outcome, seen = during(self.target.clock, lambda: driver.submit_app_code(code))
        if {step_of(self.target, seen.start), step_of(self.target, seen.end)} != {step}:
            raise Inconclusive(
                f"the code of offset {offset:+d} was sent in step {step} but may have reached the portal"
                f" in another ({seen}): the machine or the network was too slow to tell",
                "TOTP_WINDOW",
            )
        self.m.submissions += 1
        self.m.results[offset] = outcome.ok
        if outcome.ok:
            driver.logout()
            self.logged_in = False
        return outcome.ok


def measure_window(target: Target) -> WindowMeasurement:
    p = target.profile
    m = WindowMeasurement()
    past_limit = p.totp_window_past_steps + 1
    prober = _Prober(target, m, past_limit)
    for offset in range(-past_limit, 1):
        prober.attempt(offset)
    if m.results[-past_limit]:
        _follow_past(target, m, past_limit)
    fresh_each = hasattr(target.operator, "enrol_app")
    offset = 1
    while (_Prober(target, m, 0) if fresh_each else prober).attempt(offset) and (
        offset < p.totp_window_future_steps + 1 + EXTRA_STEPS
    ):
        offset += 1
    m.future_limit_hit = m.results[offset]
    target.measure("submissions", m.submissions)
    return m


def _follow_past(target: Target, m: WindowMeasurement, known: int) -> None:
    """A fresh enrolment walks further into the past, since the first one has moved on."""
    farthest = known + EXTRA_STEPS
    prober = _Prober(target, m, farthest)
    for offset in range(-farthest, -known):
        prober.attempt(offset)
    m.past_limit_hit = m.results[-farthest]
