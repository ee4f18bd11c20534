"""Real time, run concurrently: a run lasts about as long as its longest wait, not their sum.

Against a deployed portal without the test-clock extension, a lifetime check must really wait
out the lifetime. Run one after another, a suite of such checks pays the sum of the waits. So
before pytest's run loop starts, every selected check that needs only the ``portal`` fixture
runs in its own thread, on its own accounts (a fresh target each), concurrently with the others;
pytest's loop then reports each stored outcome in order, as if it had just run. Checks with other
fixtures (the features) run normally afterwards.

*The critical path first.* A run cannot end before its longest chain of waits (one check's
waits, one after the other) has been waited out, so that chain should begin as early as possible.
A check declares the waits it will ask for with :func:`waits`; the checks then start in waves,
the longest declared chain first, and each wave starts only when every check of the wave before
has begun its first real wait (or ended): the work a check does before its first wait (accounts,
logins, a password hash each on the portal) never competes with that of a check whose chain is
longer, and the checks with shorter chains do theirs while the longer ones wait. A wave is held
back at most the difference between the longest chain and its own, so a slow or stuck check
cannot make the ones behind it end last. Checks that declare nothing start in the last wave
(most never wait); when no check declares a wait, all start at once, as before. The declaration
only orders the start: every wait is still the check's own, never shortened.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import pytest

from ninsho.conformance.naming import check_title
from ninsho.conformance.target import Target

MAX_THREADS = 32
_current = threading.local()
_WAITS_ATTRIBUTE = "ninsho_real_time_waits"
_WHAT_ATTRIBUTE = "ninsho_real_time_waits_for"

Check = TypeVar("Check", bound=Callable[..., Any])
Key = TypeVar("Key", bound=Hashable)
WaitsHint = Callable[[Target], float]


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
        """A wait begins, in the calling thread: checks held back for this one may start."""
        with self.lock:
            self.waits.append(seconds)
        began_waiting()

    @property
    def longest(self) -> float:
        return max(self.waits, default=0.0)

    @property
    def total(self) -> float:
        return sum(self.waits)


OUTCOME_KEY = pytest.StashKey[Outcome]()


def waits(hint: WaitsHint, what: str | None = None) -> Callable[[Check], Check]:
    """Declare the real-time waits a check asks for, one after the other, as their sum from its
    target (``lambda portal: <lifetime> + portal.margin_seconds``), and what they are for
    (``what="email code lifetime"``: the evidence and the terminal's countdown say so). Only the
    order in which :func:`prerun` starts the checks depends on the hint; tests/harness compares
    it with the waits the check really asks for."""

    def declare(check: Check) -> Check:
        setattr(check, _WAITS_ATTRIBUTE, hint)
        if what is not None:
            setattr(check, _WHAT_ATTRIBUTE, what)
        return check

    return declare


def waits_for(function: Callable[..., Any] | None) -> str | None:
    """What ``function`` declared its waits are for (:func:`waits`), if it did."""
    what: str | None = getattr(function, _WHAT_ATTRIBUTE, None)
    return what


def declared_waits(function: Callable[..., Any], target: Target) -> float:
    """The chain of waits ``function`` declares for ``target``; 0.0 when it declares none."""
    hint: WaitsHint | None = getattr(function, _WAITS_ATTRIBUTE, None)
    return float(hint(target)) if hint is not None else 0.0


def in_prerun() -> bool:
    """True in the threads of :func:`prerun`."""
    return hasattr(_current, "nodeid")


def current_check() -> str:
    """The check the calling thread runs, for the terminal's "waiting …" lines."""
    return str(getattr(_current, "nodeid", "harness"))


def current_title() -> str:
    """The readable name of the check the calling thread runs (naming.check_title)."""
    return str(getattr(_current, "title", current_check()))


def began_waiting() -> None:
    """The calling thread's check begins a real wait (the real clock's ``on_wait``, through the
    ledger): the next wave may start. Outside :func:`run_in_waves` it does nothing."""
    event: threading.Event | None = getattr(_current, "waiting", None)
    if event is not None:
        event.set()


def runnable(item: pytest.Item) -> bool:
    """Only the harness's own checks whose one fixture is ``portal`` (parameters aside)."""
    if not isinstance(item, pytest.Function) or "conformance/checks" not in str(item.path).replace("\\", "/"):
        return False
    params = set(getattr(getattr(item, "callspec", None), "params", {}))
    return set(inspect.signature(item.function).parameters) - params == {"portal"}


def waves(chains: Mapping[Key, float]) -> list[list[Key]]:
    """The start order: one wave per declared chain length, longest first (order kept within a
    wave); checks that declare no wait (0) make the last wave. Nothing declared: one wave."""
    lengths = sorted({seconds for seconds in chains.values()}, reverse=True)
    return [[key for key, seconds in chains.items() if seconds == length] for length in lengths]


def run_in_waves(jobs: Mapping[Key, tuple[float, Callable[[], Outcome]]]) -> dict[Key, Outcome]:
    """Run every job in its own thread, wave after wave (:func:`waves` of their declared chains):
    a wave starts once every job of the one before has begun waiting or ended, and at the latest
    when the longest chain less its own has passed since the first wave started, so that holding
    a job back (behind a job that is slow to reach its wait, or stuck) never makes it end last."""
    chains = {key: chain for key, (chain, _) in jobs.items()}
    longest = max(chains.values(), default=0.0)
    futures: dict[Key, Future[Outcome]] = {}
    before: list[threading.Event] = []
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_THREADS, len(jobs)))) as pool:
        began = time.monotonic()
        for wave in waves(chains):
            latest = began + longest - chains[wave[0]]
            for event in before:
                event.wait(max(0.0, latest - time.monotonic()))
            before = []
            for key in wave:
                before.append(threading.Event())
                futures[key] = pool.submit(_flagged, jobs[key][1], before[-1])
    return {key: futures[key].result() for key in jobs}


def _flagged(job: Callable[[], Outcome], waiting: threading.Event) -> Outcome:
    _current.waiting = waiting
    try:
        return job()
    finally:
        del _current.waiting
        waiting.set()  # ended without waiting (or raised): the next wave must not wait for it


def _run(item: pytest.Function, target: Target) -> Outcome:
    _current.nodeid = item.nodeid
    _current.title = check_title(item).text
    target.waits_for = waits_for(item.function) or ""
    params: dict[str, Any] = dict(getattr(getattr(item, "callspec", None), "params", {}))
    try:
        item.obj(portal=target, **params)
    except BaseException as exc:  # stored, and raised again in the item's own call phase
        return Outcome(target, exc)
    finally:
        target.close()  # a pool's accounts go back, restored, for the checks still waiting
    return Outcome(target, None)


def floor_line(chains: Mapping[Key, float], name: Callable[[Key], str]) -> str | None:
    """What the run cannot beat, said before it starts: the longest declared chain of waits
    (one check's waits, one after the other). None when no check declares a wait."""
    if not chains or max(chains.values()) <= 0:
        return None
    key = max(chains, key=lambda k: chains[k])
    return (
        f"real time: the longest chain of waits is {chains[key]:.1f} s (check “{name(key)}”);"
        " the run cannot end sooner (TOTP checks, which wait for the 30-second step, declare none)"
    )


def prerun(items: list[pytest.Item], new_target: Any, announce: Callable[[str], None] = print) -> float:
    """Run the runnable items concurrently, the longest declared chain first, after announcing
    the floor (:func:`floor_line`); returns the wall time taken."""
    started = time.monotonic()
    jobs: dict[pytest.Function, tuple[float, Callable[[], Outcome]]] = {}
    for item in items:
        if isinstance(item, pytest.Function) and runnable(item):
            target = new_target()
            jobs[item] = (declared_waits(item.function, target), partial(_run, item, target))
    line = floor_line({item: chain for item, (chain, _) in jobs.items()}, lambda item: check_title(item).text)
    if line is not None:
        announce(line)
    for item, outcome in run_in_waves(jobs).items():
        item.stash[OUTCOME_KEY] = outcome
    return time.monotonic() - started
