"""The real-time pre-run's start order (conformance/realtime.py): the longest declared chain of
waits starts first, each wave once the one before has begun waiting, and the declarations agree
with the waits the checks really ask for. Nothing here waits for real time: the fake checks
report a wait to the ledger and return, and the declarations are compared under virtual time."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ninsho.conformance import realtime
from ninsho.conformance.drivers.embedded import embedded_target
from ninsho.conformance.target import Target
from ninsho.reference.embedded import embedded_portal
from ninsho.spec.registry import load_profile

CHECK_MODULES = ["test_codes", "test_flows", "test_sessions", "test_addresses", "test_totp", "test_purposes"]


def test_waves_put_the_longest_chain_first_and_undeclared_checks_last() -> None:
    chains = {"lockout": 8.0, "none": 0.0, "trust": 13.0, "email": 3.0, "resend": 3.0, "other": 0.0}
    assert realtime.waves(chains) == [["trust"], ["lockout"], ["email", "resend"], ["none", "other"]]


def test_without_declarations_everything_is_one_wave() -> None:
    assert realtime.waves({"a": 0.0, "b": 0.0, "c": 0.0}) == [["a", "b", "c"]]
    assert realtime.waves({}) == []


def test_the_floor_is_the_longest_declared_chain_and_is_said_before_the_run() -> None:
    line = realtime.floor_line({"trust": 13.0, "idle": 120.0, "none": 0.0}, str.upper)
    assert line is not None and "120.0 s" in line and "“IDLE”" in line
    assert realtime.floor_line({"none": 0.0, "other": 0.0}, str) is None
    assert realtime.floor_line({}, str) is None


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()

    def add(self, event: str) -> None:
        with self.lock:
            self.events.append(event)


def fake_check(name: str, log: Log, ledger: realtime.WaitLedger, wait: float | None) -> Callable[[], Any]:
    """Starts, reports one wait to the ledger as the real clock's ``on_wait`` does (no sleep), ends."""

    def run() -> realtime.Outcome:
        log.add(f"start {name}")
        if wait is not None:
            log.add(f"wait {name}")
            ledger.add(wait)
        log.add(f"end {name}")
        return realtime.Outcome(target=None, error=None)  # type: ignore[arg-type]

    return run


def test_each_wave_starts_once_the_longer_chains_wait() -> None:
    log, ledger = Log(), realtime.WaitLedger()
    # Chains far apart, so the bound on holding a wave back cannot come into play here.
    declared = {"email": 30.0, "trust": 130.0, "plain": 0.0, "reset": 110.0, "lockout": 80.0}
    jobs = {name: (chain, fake_check(name, log, ledger, chain or None)) for name, chain in declared.items()}
    outcomes = realtime.run_in_waves(jobs)
    assert set(outcomes) == set(declared)
    events = log.events
    order = ["trust", "reset", "lockout", "email", "plain"]
    assert [e for e in events if e.startswith("start")] == [f"start {name}" for name in order], events
    for longer, shorter in itertools.pairwise(order):
        if declared[longer]:
            assert events.index(f"wait {longer}") < events.index(f"start {shorter}"), events
    assert sorted(ledger.waits) == [30.0, 80.0, 110.0, 130.0]


def test_a_check_that_ends_without_waiting_does_not_hold_the_next_wave() -> None:
    log, ledger = Log(), realtime.WaitLedger()
    jobs = {
        "declared but skipped": (13.0, fake_check("skipped", log, ledger, None)),
        "short": (3.0, fake_check("short", log, ledger, 3.0)),
    }
    realtime.run_in_waves(jobs)
    assert log.events.index("end skipped") < log.events.index("start short")


def test_a_stuck_check_holds_the_next_wave_at_most_the_difference_of_their_chains() -> None:
    """The first check never reaches its wait until the second has started; the second's chain
    is 1 ms shorter, so it starts after at most 1 ms instead of never."""
    second_started = threading.Event()

    def stuck() -> realtime.Outcome:
        assert second_started.wait(timeout=10), "the second wave waited for the stuck check"
        return realtime.Outcome(target=None, error=None)  # type: ignore[arg-type]

    def second() -> realtime.Outcome:
        second_started.set()
        return realtime.Outcome(target=None, error=None)  # type: ignore[arg-type]

    realtime.run_in_waves({"stuck": (13.0, stuck), "second": (12.999, second)})
    assert second_started.is_set()


def test_without_declarations_all_checks_run_at_once() -> None:
    """Today's behaviour: the barrier opens only if every check has started before any ends."""
    count = 6
    barrier = threading.Barrier(count, timeout=10)

    def check() -> realtime.Outcome:
        barrier.wait()
        return realtime.Outcome(target=None, error=None)  # type: ignore[arg-type]

    outcomes = realtime.run_in_waves({n: (0.0, check) for n in range(count)})
    assert len(outcomes) == count


def declared_checks() -> Iterator[Callable[..., None]]:
    for name in CHECK_MODULES:
        module = importlib.import_module(f"ninsho.conformance.checks.{name}")
        for _, function in inspect.getmembers(module, inspect.isfunction):
            if hasattr(function, "ninsho_real_time_waits"):
                yield function


class RecordingClock:
    """The embedded portal's virtual clock, with each wait a check asks for written down."""

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self.waits: list[float] = []
        self.kind = getattr(clock, "kind", "virtual")

    def now(self) -> float:
        return float(self._clock.now())

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self.waits.append(seconds)
        self._clock.advance(seconds)


def test_the_lifetime_checks_declare_their_waits() -> None:
    names = {f.__name__ for f in declared_checks()}
    assert {
        "test_trust_this_browser",
        "test_reset_code_refused_after_lifetime",
        "test_reset_code_accepted_before_lifetime_and_single_use",
        "test_email_code_refused_just_after_lifetime",
        "test_email_code_accepted_just_before_lifetime",
        "test_lockout_duration",
        "test_idle_session_expires",
        "test_first_factor_session_expires",
        "test_a_busy_session_ends_at_its_absolute_lifetime",
    } <= names


@pytest.mark.parametrize("profile_name", ["fast-test", "iimc"])
@pytest.mark.parametrize("check", list(declared_checks()), ids=lambda f: f.__name__)
def test_a_declared_chain_is_the_sum_of_the_waits_the_check_asks_for(
    check: Callable[..., None], profile_name: str
) -> None:
    profile = load_profile(profile_name)
    base = embedded_target(embedded_portal(profile, seed=7), profile)
    clock = RecordingClock(base.clock)
    target: Target = dataclasses.replace(base, clock=clock)
    check(portal=target)
    assert clock.waits, f"{check.__name__} declares waits but asked for none"
    assert realtime.declared_waits(check, target) == pytest.approx(sum(clock.waits)), clock.waits
