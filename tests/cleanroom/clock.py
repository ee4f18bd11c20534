"""The portal's only sources of time and randomness, injected so tests can control both."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Unix time in seconds; every time-dependent decision reads it (protocol.md §2.2)."""

    def now(self) -> float: ...


class Random(Protocol):
    """A CSPRNG: codes, secrets and tokens all come from it (protocol.md §12.2)."""

    def token_bytes(self, count: int) -> bytes: ...

    def randbelow(self, bound: int) -> int: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()


class OffsetClock:
    """A clock shifted by an offset that the test-clock extension moves (protocol.md §17)."""

    def __init__(self, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> None:
        """Add to the offset; offsets accumulate."""
        with self._lock:
            self._offset += seconds

    def now(self) -> float:
        with self._lock:
            return self._base.now() + self._offset


class FixedClock:
    """A clock that only moves when told, for unit tests."""

    def __init__(self, start: float) -> None:
        self.value = start

    def now(self) -> float:
        return self.value


class SystemRandom:
    """The secrets module."""

    def token_bytes(self, count: int) -> bytes:
        return secrets.token_bytes(count)

    def randbelow(self, bound: int) -> int:
        return secrets.randbelow(bound)
