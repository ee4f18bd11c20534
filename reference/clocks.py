"""Clocks and random sources for the core's ports: the real ones and the controllable ones."""

from __future__ import annotations

import fcntl
import os
import random as _random
import secrets
import threading
import time
from pathlib import Path


class SystemClock:
    def now(self) -> float:
        return time.time()


class ShiftedClock:
    """The real clock plus an offset that a test may move: the test-clock extension
    [TEST_CLOCK_DISABLED_BY_DEFAULT] and the harness's fast mode use it.

    ``shared`` names a file that holds the offset for several processes (``serve --workers``):
    every worker then tells the same time, whichever of them the test clock was moved through.
    It is read at every ``now()`` (a few microseconds, and only with the test clock on). A move
    writes a new file and renames it over the old one, so that a reader sees the old offset or
    the new one and never a half-written file; moves take turns on a lock file beside it."""

    def __init__(self, base: SystemClock | None = None, shared: Path | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = 0.0
        self._lock = threading.Lock()
        self._shared = shared

    @property
    def offset(self) -> float:
        if self._shared is None:
            return self._offset
        return float(self._shared.read_text(encoding="ascii"))

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._shared is None:
                self._offset += seconds
                return
            lock = self._shared.with_name(self._shared.name + ".lock")
            with lock.open("a") as held:
                fcntl.flock(held, fcntl.LOCK_EX)  # released when the file closes
                offset = self.offset + seconds
                fresh = self._shared.with_name(f"{self._shared.name}.{os.getpid()}")
                fresh.write_text(repr(offset), encoding="ascii")
                os.replace(fresh, self._shared)

    def now(self) -> float:
        return self._base.now() + self.offset


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
