"""A tape of the core work a harness run causes: every call on ``ninsho.reference.core.Portal``, with
the clock readings and random bytes the core took during it.

Item 2 compares the harness with "the same checks made as direct core calls". Writing those
calls by hand (as this folder once did, for the 98 probes only) doubles every check and drifts
from it; a tape is taken from the real run instead, so the yardstick covers the whole main job,
features included, and stays true as checks change. The core is deterministic given its clock
and random source (it reads nothing else), so replaying a call with the same readings must give
the same answer: :func:`replay` checks that it does, call by call.

Two calls that were in flight on one portal at once (the concurrent-submission probes) may
have taken the account's lock in either order; those are compared as a group (the same answers,
in any order), not one by one.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ninsho.reference.clocks import SeededRandom, SystemRandom, VirtualClock
from ninsho.reference.core.errors import NinshoError
from ninsho.reference.embedded import Embedded, embedded_portal
from ninsho.spec.profile import Profile

_local = threading.local()


@dataclass
class Call:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    clock: list[float] = field(default_factory=list)  # every Clock.now() the core made, in order
    draws: list[bytes] = field(default_factory=list)  # every RandomSource.randbytes() result
    outcome: Any = None  # the answer, or ("refused", error class, code) for a NinshoError
    overlapped: bool = False  # another call was in flight on the same portal meanwhile


@dataclass
class Tape:
    """One embedded portal's life: how it was built, then its calls in the order they began."""

    profile: Profile
    construction: list[bytes] = field(default_factory=list)  # random bytes drawn while building
    calls: list[Call] = field(default_factory=list)


def refusal(exc: NinshoError) -> tuple[str, str, str]:
    """How a refused call is taped and compared: its error class and code."""
    return ("refused", type(exc).__name__, exc.code)


def outcome_of(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return action(*args, **kwargs)
    except NinshoError as exc:
        return refusal(exc)


# --- recording ---------------------------------------------------------------------------
class _TappedClock:
    """The portal's clock, read through: readings inside a call go on that call's tape. The
    harness keeps the plain virtual clock, so its own readings are not the core's work."""

    def __init__(self, inner: VirtualClock) -> None:
        self.inner = inner

    def now(self) -> float:
        value = self.inner.now()
        call: Call | None = getattr(_local, "call", None)
        if call is not None:
            call.clock.append(value)
        return value


class _TappedRandom:
    def __init__(self, inner: Any, tape: Tape) -> None:
        self.inner, self.tape = inner, tape

    def randbytes(self, n: int) -> bytes:
        value: bytes = self.inner.randbytes(n)
        call: Call | None = getattr(_local, "call", None)
        if call is not None:
            call.draws.append(value)
        elif self.tape.calls:
            raise RuntimeError("the core drew random bytes outside any portal call")
        else:
            self.tape.construction.append(value)
        return value


def _plain(value: Any) -> Any:
    """A harness's own str subclass (actions.StepCode carries its TOTP step) taped as the plain
    text the core received: the tape must unpickle without the harness's classes."""
    return str(value) if isinstance(value, str) and type(value) is not str else value


class _TappedPortal:
    """The portal, with every public method call written to the tape."""

    def __init__(self, portal: Any, tape: Tape) -> None:
        self._portal, self._tape = portal, tape
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._portal, name)
        if name.startswith("_") or not callable(method):
            return method

        def recorded(*args: Any, **kwargs: Any) -> Any:
            call = Call(name, tuple(map(_plain, args)), {k: _plain(v) for k, v in kwargs.items()})
            with self._lock:
                if self._in_flight:
                    call.overlapped = True
                    for other in self._in_flight:
                        self._tape.calls[other].overlapped = True
                index = len(self._tape.calls)
                self._tape.calls.append(call)
                self._in_flight.add(index)
            _local.call = call
            try:
                result = method(*args, **kwargs)
                call.outcome = result
                return result
            except NinshoError as exc:
                call.outcome = refusal(exc)
                raise
            finally:
                _local.call = None
                with self._lock:
                    self._in_flight.discard(index)

        return recorded


class Recorder:
    """Builds embedded portals as :func:`ninsho.reference.embedded.embedded_portal` does, taped."""

    def __init__(self) -> None:
        self.tapes: list[Tape] = []

    def embedded_portal(self, profile: Profile, **kwargs: Any) -> Embedded:
        if set(kwargs) - {"seed"}:
            raise ValueError(f"recording supports the plain reference only, not {sorted(kwargs)}")
        tape = Tape(profile)
        self.tapes.append(tape)
        clock = VirtualClock()
        seed = kwargs.get("seed")
        source = SeededRandom(seed) if seed is not None else SystemRandom()
        embedded = embedded_portal(profile, clock=_TappedClock(clock), random=_TappedRandom(source, tape))
        embedded.clock = clock
        embedded.portal = _TappedPortal(embedded.portal, tape)  # type: ignore[assignment]
        return embedded


# --- replaying ---------------------------------------------------------------------------
class _Reel:
    """Gives back recorded values in order, and says so when the core asks for one too many."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.values: list[Any] = []
        self.position = 0

    @property
    def left(self) -> int:
        return len(self.values) - self.position

    def load(self, values: list[Any]) -> None:
        self.values, self.position = values, 0

    def next(self) -> Any:
        if self.position >= len(self.values):
            raise RuntimeError(f"the replay asked for more {self.what} than the recording holds")
        self.position += 1
        return self.values[self.position - 1]


class _ReplayClock(_Reel):
    def now(self) -> float:
        value: float = self.next()
        return value


class _ReplayRandom(_Reel):
    def randbytes(self, n: int) -> bytes:
        value: bytes = self.next()
        if len(value) != n:
            raise RuntimeError(f"the replay asked for {n} random bytes where the recording drew {len(value)}")
        return value


@dataclass
class Replayed:
    seconds: float  # building the portals and making the calls; nothing else
    portals: int
    calls: int
    identical: int
    grouped: int  # overlapped calls, compared as a group
    differences: list[str]


def replay(tapes: list[Tape]) -> Replayed:
    """Every tape's calls made again on a fresh core with the recorded readings, timed."""
    clock, random = _ReplayClock("clock readings"), _ReplayRandom("random bytes")
    answers: list[list[Any]] = []
    left_over: list[tuple[int, int, int, int]] = []  # (portal, call, clock readings, random draws)
    started = time.perf_counter()
    for tape in tapes:
        random.load(tape.construction)
        portal = embedded_portal(tape.profile, clock=clock, random=random).portal
        got = []
        for call in tape.calls:
            clock.load(call.clock)
            random.load(call.draws)
            got.append(outcome_of(getattr(portal, call.method), *call.args, **call.kwargs))
            if clock.left or random.left:
                left_over.append((len(answers), len(got) - 1, clock.left, random.left))
        answers.append(got)
    seconds = time.perf_counter() - started
    replayed = _compare(tapes, answers, seconds)
    for number, index, readings, draws in left_over:
        method = tapes[number].calls[index].method
        replayed.differences.append(
            f"portal {number}, {method}: the replay left {readings} clock readings and {draws} draws unused"
        )
    return replayed


def _compare(tapes: list[Tape], answers: list[list[Any]], seconds: float) -> Replayed:
    identical = grouped = 0
    differences: list[str] = []
    for number, (tape, got) in enumerate(zip(tapes, answers, strict=True)):
        together: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
        for call, answer in zip(tape.calls, got, strict=True):
            if call.overlapped:
                grouped += 1
                together[0][repr(call.outcome)] += 1
                together[1][repr(answer)] += 1
            elif answer == call.outcome:
                identical += 1
            else:
                differences.append(
                    f"portal {number}, {call.method}: recorded {call.outcome!r}, replayed {answer!r}"
                )
        if together[0] != together[1]:
            differences.append(
                f"portal {number}, concurrent calls: recorded {together[0]}, replayed {together[1]}"
            )
    calls = sum(len(t.calls) for t in tapes)
    return Replayed(seconds, len(tapes), calls, identical, grouped, differences)
