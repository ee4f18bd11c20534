"""What a wait is for, and the terminal's countdown of the real-time waits under way.

In real time a run spends most of its wall time waiting out lifetimes and lockouts: ten minutes
or more of a terminal that says nothing looks like a hung job. The terminal used to name the
check that waited (a node ID), not what it waited for, and gave no sense of how long was left.

A wait's purpose is set where it is known: a check declares it with ``realtime.waits(...,
what=...)`` (the target carries it), and a helper that waits for a reason of its own (the next
TOTP step) says so with :func:`waiting_for`, which wins while it lasts. The target's clock
(``transcript.RecordingClock``) reads :func:`current_purpose` when it writes the wait into the
evidence and when the real clock announces the wait; :class:`Countdown` shows every wait under
way as ``email code lifetime, 600 s: 412 s left``, rewritten in place on a terminal, one line per
wait started elsewhere (a CI log).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_local = threading.local()
TICK_SECONDS = 1.0
SHOWN = 3  # waits shown in the status line; the rest are counted


@contextmanager
def waiting_for(purpose: str) -> Iterator[None]:
    """Every wait the calling thread asks for inside this block is for ``purpose``."""
    outer: str | None = getattr(_local, "purpose", None)
    _local.purpose = purpose
    try:
        yield
    finally:
        _local.purpose = outer


def current_purpose() -> str | None:
    """What the calling thread's wait is for, if a check or a helper said so."""
    purpose: str | None = getattr(_local, "purpose", None)
    return purpose


def seconds_text(seconds: float) -> str:
    """``600 s``, ``1.5 s``: whole seconds where the fraction says nothing."""
    return f"{seconds:.0f} s" if seconds >= 10 or float(seconds).is_integer() else f"{seconds:.1f} s"


@dataclass(frozen=True)
class Wait:
    purpose: str
    seconds: float
    ends_at: float  # on the countdown's own (monotonic) clock
    check: str

    def left(self, now: float) -> float:
        return max(0.0, self.ends_at - now)

    def describe(self, now: float) -> str:
        return f"{self.purpose}, {seconds_text(self.seconds)}: {self.left(now):.0f} s left"


class Countdown:
    """The real-time waits under way, for the terminal.

    ``status`` rewrites one line in place (a terminal); without it, each wait gets one line as
    it begins (a CI log, where rewriting would print every tick). :meth:`line` writes an
    ordinary line without tearing the status line."""

    def __init__(
        self,
        line: Callable[[str], None],
        status: Callable[[str], None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self._line, self._status, self._clock = line, status, clock
        self._tick = tick_seconds
        self._waits: list[Wait] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._shown = False

    def begin(self, purpose: str, seconds: float, check: str = "") -> None:
        """A wait of ``seconds`` for ``purpose`` begins now."""
        wait = Wait(purpose, seconds, self._clock() + seconds, check)
        with self._lock:
            self._waits.append(wait)
        if self._status is None:
            where = f" ({check})" if check and check not in purpose else ""
            self._line(f"waiting {seconds_text(seconds)} of real time for the {purpose}{where}")
            return
        self.refresh()
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._run, name="ninsho-countdown", daemon=True)
            self._ticker.start()

    def text(self) -> str:
        """The status line: the waits under way, the soonest to end first."""
        now = self._clock()
        with self._lock:
            self._waits = [w for w in self._waits if w.left(now) > 0]
            waits = sorted(self._waits, key=lambda w: w.ends_at)
        if not waits:
            return ""
        shown = " · ".join(w.describe(now) for w in waits[:SHOWN])
        more = f" · {len(waits) - SHOWN} more" if len(waits) > SHOWN else ""
        last = f" (all done in {waits[-1].left(now):.0f} s)" if len(waits) > 1 else ""
        return f"waiting: {shown}{more}{last}"

    def refresh(self) -> None:
        if self._status is None:
            return
        text = self.text()
        with self._lock:
            if text or self._shown:
                self._status(text)
            self._shown = bool(text)

    def line(self, text: str) -> None:
        """An ordinary line: the status line is cleared first, and shown again after it."""
        if self._status is not None and self._shown:
            self._status("")
            self._shown = False
        self._line(text)
        self.refresh()

    def stop(self) -> None:
        """The waits are over (or the run ends): stop the ticker and clear the status line."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        if self._status is not None and self._shown:
            self._status("")
            self._shown = False

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            self.refresh()
