"""Real time, run concurrently: a run lasts about as long as its longest wait, not their sum.

Against a deployed portal without the test-clock extension, a lifetime check must really wait
out the lifetime. Run one after another, a suite of such checks pays the sum of the waits. So
before pytest's run loop starts, every selected check that needs only the ``portal`` fixture
runs at once in its own thread, on its own accounts (a fresh target each); pytest's loop then
reports each stored outcome in order, as if it had just run. Checks with other fixtures (the
features) run normally afterwards.
"""

from __future__ import annotations

import inspect
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.target import Target

MAX_THREADS = 32
_current = threading.local()


@dataclass
class Outcome:
    target: Target
    error: BaseException | None


@dataclass
class WaitLedger:
    """What the real clock was asked to wait, so a run can show wall time against the sum."""

    waits: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float) -> None:
        with self.lock:
            self.waits.append(seconds)

    @property
    def longest(self) -> float:
        return max(self.waits, default=0.0)

    @property
    def total(self) -> float:
        return sum(self.waits)


OUTCOME_KEY = pytest.StashKey[Outcome]()


def in_prerun() -> bool:
    """True in the threads of :func:`prerun`."""
    return hasattr(_current, "nodeid")


def current_check() -> str:
    """The check the calling thread runs, for the terminal's "waiting …" lines."""
    return str(getattr(_current, "nodeid", "harness"))


def runnable(item: pytest.Item) -> bool:
    """Only the harness's own checks whose one fixture is ``portal`` (parameters aside)."""
    if not isinstance(item, pytest.Function) or "conformance/checks" not in str(item.path).replace("\\", "/"):
        return False
    params = set(getattr(getattr(item, "callspec", None), "params", {}))
    return set(inspect.signature(item.function).parameters) - params == {"portal"}


def _run(item: pytest.Function, target: Target) -> Outcome:
    _current.nodeid = item.nodeid
    params: dict[str, Any] = dict(getattr(getattr(item, "callspec", None), "params", {}))
    try:
        item.obj(portal=target, **params)
    except BaseException as exc:  # stored, and raised again in the item's own call phase
        return Outcome(target, exc)
    return Outcome(target, None)


def prerun(items: list[pytest.Item], new_target: Any) -> float:
    """Run the runnable items concurrently; returns the wall time taken."""
    chosen = [i for i in items if isinstance(i, pytest.Function) and runnable(i)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_THREADS, len(chosen)))) as pool:
        futures = {item: pool.submit(_run, item, new_target()) for item in chosen}
    for item, future in futures.items():
        item.stash[OUTCOME_KEY] = future.result()
    return time.monotonic() - started
