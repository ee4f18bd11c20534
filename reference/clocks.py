"""Clocks and random sources for the core's ports: the real ones and the controllable ones."""

from __future__ import annotations

import random as _random
import secrets
import threading
import time


class SystemClock:
    def now(self) -> float:
        return time.time()


class ShiftedClock:
    """The real clock plus an offset that a test may move: the test-clock extension
    [TEST_CLOCK_DISABLED_BY_DEFAULT] and the harness's fast mode use it."""

    def __init__(self, base: SystemClock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def now(self) -> float:
        return self._base.now() + self._offset


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
