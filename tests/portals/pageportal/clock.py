"""The one clock every time-dependent decision reads, so a test clock can shift them all."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Clock:
    """The portal's time in Unix seconds; with ``adjustable`` a test may add an offset."""

    def __init__(
        self,
        adjustable: bool = False,
        offset: float = 0.0,
        on_change: Callable[[float], None] | None = None,
    ) -> None:
        self.adjustable = adjustable
        self._offset = offset if adjustable else 0.0
        self._on_change = on_change
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        """Seconds added to the system time (0 unless the test clock is on)."""
        return self._offset

    def now(self) -> float:
        """The current portal time."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the portal's time; refused unless the clock was made adjustable at start-up."""
        if not self.adjustable:
            raise PermissionError("the test clock is disabled")
        with self._lock:
            self._offset += seconds
            if self._on_change is not None:
                self._on_change(self._offset)
