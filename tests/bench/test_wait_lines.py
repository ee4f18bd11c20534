"""benchmarks/realtime_floor.py reads the harness's wait lines: held to the lines as printed.

Its pattern once went stale when the wording changed, and the floor it printed read 0 s; here
the lines come from the harness's own Countdown, so a change of wording fails this test.
"""

from __future__ import annotations

from benchmarks.realtime_floor import WAIT_LINE
from ninsho.conformance.waits import Countdown


def test_the_floor_reads_every_wait_the_harness_prints() -> None:
    lines: list[str] = []
    countdown = Countdown(lines.append)  # no status line: one line a wait, as in a CI log
    countdown.begin("email code's lifetime", 11.0, "EMAIL_OTP_LIFETIME")
    countdown.begin("lockout (LOCKOUT_DURATION)", 1.5, "LOCKOUT_DURATION")
    found = WAIT_LINE.findall("\n".join(["other output", *lines, "more"]))
    assert [(float(s), check or purpose) for s, purpose, check in found] == [
        (11.0, "EMAIL_OTP_LIFETIME"),
        (1.5, "LOCKOUT_DURATION"),  # a purpose that names its check is grouped by the check too
    ]
