"""Clocks and random sources for the core's ports: the real ones and the controllable ones."""

from __future__ import annotations

import contextvars
import fcntl
import json
import os
import random as _random
import re
import secrets
import threading
import time
from pathlib import Path

# The test clock's lane of the request being served (spec/protocol.md §17, "Lanes"): set by the
# web edge from the request's Ninsho-Test-Clock-Lane header; "" is the portal's own offset.
TEST_CLOCK_LANE: contextvars.ContextVar[str] = contextvars.ContextVar("test_clock_lane", default="")
LANE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_LANES = 256  # lanes with an offset of their own; a new one beyond is refused


class SystemClock:
    def now(self) -> float:
        return time.time()


class TooManyLanes(Exception):
    """A lane beyond :data:`MAX_LANES` was moved: the web edge refuses it as invalid input."""


class ShiftedClock:
    """The real clock plus an offset that a test may move: the test-clock extension
    [TEST_CLOCK_DISABLED_BY_DEFAULT] and the harness's fast mode use it.

    The offset is per lane (spec/protocol.md §17): the request's lane is :data:`TEST_CLOCK_LANE`
    and each starts at 0, so that checks running at once (``ninsho check -n N``, a lane per
    worker) each move their own time and no other's. The core still sees one ``Clock``.

    ``shared`` names a file that holds the offsets for several processes (``serve --workers``):
    every worker then tells the same time, whichever of them the test clock was moved through.
    It is read at every ``now()`` (a few microseconds, and only with the test clock on). A move
    writes a new file and renames it over the old one, so that a reader sees the old offsets or
    the new ones and never a half-written file; moves take turns on a lock file beside it."""

    def __init__(self, base: SystemClock | None = None, shared: Path | None = None) -> None:
        self._base = base or SystemClock()
        self._offsets: dict[str, float] = {}
        self._lock = threading.Lock()
        self._shared = shared

    def _read(self) -> dict[str, float]:
        if self._shared is None:
            return self._offsets
        text = self._shared.read_text(encoding="ascii")
        if not text.lstrip().startswith("{"):  # a file from before the lanes: one offset
            return {"": float(text)}
        return {str(k): float(v) for k, v in json.loads(text).items()}

    @property
    def offset(self) -> float:
        return self._read().get(TEST_CLOCK_LANE.get(), 0.0)

    def advance(self, seconds: float) -> None:
        lane = TEST_CLOCK_LANE.get()
        with self._lock:
            if self._shared is None:
                self._offsets = _moved(self._offsets, lane, seconds)
                return
            lock = self._shared.with_name(self._shared.name + ".lock")
            with lock.open("a") as held:
                fcntl.flock(held, fcntl.LOCK_EX)  # released when the file closes
                offsets = _moved(self._read(), lane, seconds)
                fresh = self._shared.with_name(f"{self._shared.name}.{os.getpid()}")
                fresh.write_text(json.dumps(offsets), encoding="ascii")
                os.replace(fresh, self._shared)

    def now(self) -> float:
        return self._base.now() + self.offset

    def earliest(self) -> float:
        """The time of the lane furthest behind (the portal's own counts, at its offset): what
        a store's sweep of expired records of *other* accounts goes by, so that a request in a
        lane ahead never drops what a lane behind still counts (spec/protocol.md §17)."""
        return self._base.now() + min([0.0, *self._read().values()])


def _moved(offsets: dict[str, float], lane: str, seconds: float) -> dict[str, float]:
    if lane not in offsets and len(offsets) >= MAX_LANES:
        raise TooManyLanes(lane)
    return {**offsets, lane: offsets.get(lane, 0.0) + seconds}


class VirtualClock:
    """Time that moves only when told: the embedded portal's virtual time."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, unix_time: float) -> None:
        with self._lock:
            self._now = unix_time


class SystemRandom:
    """The operating system's CSPRNG [CODE_CSPRNG]."""

    def randbytes(self, n: int) -> bytes:
        return secrets.token_bytes(n)


class SeededRandom:
    """Deterministic bytes for tests only: never a CSPRNG."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = _random.Random(seed)
        self._lock = threading.Lock()

    def randbytes(self, n: int) -> bytes:
        with self._lock:
            return self._rng.randbytes(n)
