"""Many browsers submitting one code at the same moment: the probe behind "exactly one succeeds".

A submission ends one of three ways: accepted, refused, or answered with a server error. The
third is counted rather than raised, because under a race it is the finding, not a broken
harness: a portal that checks a code, then writes that it was used, lets a second submission
past the check, and the second write then fails (privacyIDEA: ``UNIQUE constraint failed`` on
its token info, a 500). Anything else a driver raises still ends the check as an ERROR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ninsho.conformance.interfaces import Driver, Outcome, ServerError
from ninsho.conformance.target import Target

SUBMISSIONS = 8  # browsers of one account, each submitting the same valid code


@dataclass(frozen=True)
class Burst:
    accepted: int
    refused: int
    server_errors: tuple[str, ...]  # one line per 5xx answer

    @property
    def submitted(self) -> int:
        return self.accepted + self.refused + len(self.server_errors)

    @property
    def exactly_one_succeeded(self) -> bool:
        """One accepted, every other one refused: a server error is not a refusal, since the
        user cannot tell whether the code was spent."""
        return self.accepted == 1 and not self.server_errors

    def __str__(self) -> str:
        errors = (
            f", {len(self.server_errors)} server errors ({self.server_errors[0]})"
            if self.server_errors
            else ""
        )
        return f"{self.accepted} accepted, {self.refused} refused{errors}, of {self.submitted}"


def submit_at_once(target: Target, browsers: Sequence[Driver], submit: Callable[[Driver], Outcome]) -> Burst:
    """``submit`` in every browser from its own thread, all started together; the counts go in
    the report (``concurrent_accepted`` keeps its "N of M" form, which users' scripts read).
    Each browser's lines go into the transcript after the burst, in the browsers' order."""

    def one(browser: Driver) -> tuple[Outcome | Exception, list[str]]:
        with target.transcript.held() as lines:
            try:
                end: Outcome | Exception = submit(browser)
            except Exception as exc:  # raised below unless a server error, after its lines are in
                end = exc
        return end, lines

    with ThreadPoolExecutor(max_workers=len(browsers)) as pool:
        ends, held = zip(*pool.map(one, browsers), strict=True)
    target.transcript.put_back(held)
    for end in ends:
        if isinstance(end, Exception) and not isinstance(end, ServerError):
            raise end
    answers = [end for end in ends if isinstance(end, Outcome)]
    burst = Burst(
        accepted=sum(a.ok for a in answers),
        refused=sum(not a.ok for a in answers),
        server_errors=tuple(str(end)[:200] for end in ends if isinstance(end, ServerError)),
    )
    target.measure("concurrent_accepted", f"{burst.accepted} of {burst.submitted}")
    if burst.server_errors:
        target.measure("concurrent_server_errors", f"{len(burst.server_errors)} of {burst.submitted}")
    return burst
