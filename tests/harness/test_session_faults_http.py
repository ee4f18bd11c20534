"""Over real HTTP, the session checks of issue #14 (items 1 and 2) against ``ninsho serve``.

The session's copied token is the API token here (the JSON driver's ``copy_session``); the pages'
cookie is copied in tests/harness/test_html_faults.py, which runs every fault through the pages,
and tests/harness/test_faulty_portals.py runs each fault against the whole suite in process.

- On the test clock, the checks of SESSION_ABSOLUTE_LIFETIME, SESSION_TOKEN_RENEWED and
  STALE_SESSIONS_END PASS on the correct server, and each session fault of reference/faults.py
  FAILs exactly its requirement among them, the other two still PASS.
- In real time, under fast-test (90 s in all, the idle time 60 s) and with no test clock, the
  absolute lifetime's check PASSes on the correct server: it waits the profile's lifetime once,
  keeping the session busy, and no boundary is a coin toss on a loaded machine (its verdicts
  need the whole span of ages on one side, conformance/timing.py). This one run waits about
  95 s; it runs beside the test-clock runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ninsho.reference.faults import FAULTS
from ninsho.spec.registry import load_profile
from tests.harness.test_http_harness import Run, harness_server, run_harness

SESSION_REQUIREMENTS = ("SESSION_ABSOLUTE_LIFETIME", "SESSION_TOKEN_RENEWED", "STALE_SESSIONS_END")
SESSION_FAULTS = tuple(sorted(n for n, f in FAULTS.items() if set(f.breaks) <= set(SESSION_REQUIREMENTS)))
SELECTION = ("-m", " or ".join(SESSION_REQUIREMENTS))
REAL_TIME = ("-m", "SESSION_ABSOLUTE_LIFETIME")


def run_server(workdir: Path, fault: str | None, *, real_time: bool = False) -> Run:
    profile = "fast-test" if real_time else "iimc"
    server = harness_server(workdir, fault, profile=profile, test_clock=not real_time)
    try:
        server.start()
        if real_time:
            return run_harness(workdir, server, "json", clock="real", select=REAL_TIME)
        return run_harness(workdir, server, "json", select=SELECTION)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """The real-time run first (it mostly waits), the test-clock runs beside it, two at a time."""
    plan: dict[str, tuple[str | None, bool]] = {"real-time": (None, True), "correct": (None, False)}
    plan |= {fault: (fault, False) for fault in SESSION_FAULTS}
    with ThreadPoolExecutor(max_workers=max(2, min(3, os.cpu_count() or 1))) as pool:
        futures = {
            key: pool.submit(run_server, tmp_path_factory.mktemp(f"session-{key}"), fault, real_time=real)
            for key, (fault, real) in plan.items()
        }
        yield {key: future.result() for key, future in futures.items()}


def test_every_session_requirement_has_its_fault() -> None:
    assert {rid for name in SESSION_FAULTS for rid in FAULTS[name].breaks} == set(SESSION_REQUIREMENTS)


@pytest.mark.slow
def test_the_correct_server_passes_the_session_checks(runs: dict[str, Run]) -> None:
    run = runs["correct"]
    assert {rid: run.verdicts.get(rid) for rid in SESSION_REQUIREMENTS} == dict.fromkeys(
        SESSION_REQUIREMENTS, "PASS"
    ), run.output
    assert set(run.verdicts.values()) == {"PASS"} and run.status == 0, run.output


@pytest.mark.slow
@pytest.mark.parametrize("fault", SESSION_FAULTS)
def test_a_session_fault_fails_exactly_its_requirement(runs: dict[str, Run], fault: str) -> None:
    run = runs[fault]
    failed = {rid for rid, verdict in run.verdicts.items() if verdict == "FAIL"}
    assert failed == set(FAULTS[fault].breaks), f"{fault}: {FAULTS[fault].description}\n{run.output}"
    others = {rid: v for rid, v in run.verdicts.items() if rid not in failed and v != "PASS"}
    assert others == {}, f"{fault} disturbed: {others}\n{run.output}"
    assert run.status == 1, run.output


@pytest.mark.slow
def test_the_absolute_lifetime_passes_in_real_time_under_fast_test(runs: dict[str, Run]) -> None:
    run = runs["real-time"]
    assert run.verdicts.get("SESSION_ABSOLUTE_LIFETIME") == "PASS", run.output
    assert set(run.verdicts.values()) == {"PASS"} and run.status == 0, run.output
    timing = run.real_time
    lifetime = load_profile("fast-test").session_absolute_seconds
    assert timing is not None and timing["sum_seconds"] >= lifetime, run.output  # it really waited it out
    assert timing["wall_seconds"] < 2 * lifetime, f"the real-time run took {timing}"
