"""A burst of browsers submitting at once (probes/concurrent) writes the same transcript whatever
order its threads run in: each browser's lines, in the browsers' order, each with its own time.

Two runs of one check (``-n 0`` and ``-n 2``, tests/harness/test_xdist.py) once differed only in
the order of two browsers' lines; a report that changes between identical runs hides the
changes that matter.
"""

from __future__ import annotations

import threading

import pytest

from ninsho.conformance.drivers.embedded import embedded_target, factory
from ninsho.conformance.errors import DriverError
from ninsho.conformance.interfaces import Driver, Outcome, ServerError
from ninsho.conformance.probes.concurrent import submit_at_once
from ninsho.conformance.target import Target
from ninsho.spec.registry import load_profile


def target() -> Target:
    profile = load_profile("iimc")
    return embedded_target(factory()(profile), profile)


class Reversed:
    """Browser ``i`` answers only after browser ``i + 1`` has written its line: the threads end
    in the reverse of the browsers' order, whatever the scheduler does."""

    def __init__(self, portal: Target, count: int, fails: dict[int, Exception]) -> None:
        self.portal = portal
        self.done = [threading.Event() for _ in range(count)]
        self.fails = fails

    def submit(self, index: int) -> Outcome:
        if index + 1 < len(self.done):
            assert self.done[index + 1].wait(timeout=30), "the next browser never answered"
        self.portal.transcript.add(f"browser {index}: submitted")
        self.portal.transcript.add(f"browser {index}: answered")
        self.done[index].set()
        if index in self.fails:
            raise self.fails[index]
        return Outcome(
            ok=index == 0, error=None if index == 0 else "code_rejected", requirement="TOTP_REPLAY"
        )


def burst_lines(portal: Target) -> list[str]:
    return [line.split("] ", 1)[-1] for line in portal.transcript.lines if "browser" in line]


def run(portal: Target, fails: dict[int, Exception]) -> Reversed:
    browsers = Reversed(portal, 4, fails)
    drivers: list[Driver] = [portal.browser() for _ in range(4)]
    numbered = {id(driver): index for index, driver in enumerate(drivers)}
    submit_at_once(portal, drivers, lambda driver: browsers.submit(numbered[id(driver)]))
    return browsers


def test_the_lines_come_in_the_browsers_order_though_the_threads_end_reversed() -> None:
    portal = target()
    run(portal, {2: ServerError("database is locked")})
    assert burst_lines(portal) == [
        f"browser {i}: {what}" for i in range(4) for what in ("submitted", "answered")
    ]
    assert portal.measured["concurrent_accepted"] == "1 of 4"
    assert portal.measured["concurrent_server_errors"] == "1 of 4"
    stamped = [line for line in portal.transcript.lines if "browser" in line]
    assert all(line.startswith("[+") for line in stamped), "a held line lost its time"


def test_a_browser_that_breaks_raises_after_every_line_is_in_the_transcript() -> None:
    portal = target()
    with pytest.raises(DriverError, match="no code field"):
        run(portal, {1: DriverError("no code field")})
    assert len(burst_lines(portal)) == 8, portal.transcript.lines
    portal.transcript.add("after the burst")
    assert portal.transcript.lines[-1].endswith("after the burst"), "a thread kept holding lines"
