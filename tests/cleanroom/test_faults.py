"""The faults of issue #18 that the harness used to miss, switched on in the clean-room portal:
each FAILs exactly its requirements against a second implementation too (issue #18 items 4–5).

Each run is ``python -m tests.cleanroom serve --fault NAME`` on the test clock and the json
driver, selected by the requirements the fault breaks (``-m "A or B"``: the probes and the
feature scenarios tagged with them). In the same selection, the clean room without a fault
PASSes all of them, so each FAIL is the switch's doing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ninsho.reference.faults import FAULTS as REFERENCE_FAULTS
from tests.cleanroom.faults import FAULTS
from tests.cleanroom.test_suite import CleanroomServer
from tests.harness.test_http_harness import Run, run_harness


def selection(names: list[str]) -> tuple[str, ...]:
    """The checks of every requirement the faults ``names`` break, as the reference's do."""
    wanted = sorted({rid for name in names for rid in REFERENCE_FAULTS[name].breaks})
    return ("-m", " or ".join(wanted))


def run_cleanroom(workdir: Path, faults: tuple[str, ...], select: tuple[str, ...]) -> Run:
    server = CleanroomServer(
        workdir / "server", profile="iimc", test_clock=True, reset_binding="session", rotate_tokens=False
    )
    server.faults = faults
    server.start()
    try:
        return run_harness(workdir, server, "json", select=select)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """One clean-room server per fault, and one without, two at a time; each stopped after its run."""
    plan = {name: ((name,), selection([name])) for name in FAULTS}
    plan["none"] = ((), selection(list(FAULTS)))
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        futures = {
            key: pool.submit(run_cleanroom, tmp_path_factory.mktemp(f"cleanroom-{key}"), faults, select)
            for key, (faults, select) in plan.items()
        }
        yield {key: future.result() for key, future in futures.items()}


def test_the_switches_are_the_reference_faults() -> None:
    """Same names, so that each is judged by what the reference's fault of that name breaks."""
    assert set(FAULTS) <= set(REFERENCE_FAULTS)


@pytest.mark.slow
def test_without_a_switch_the_selection_passes(runs: dict[str, Run]) -> None:
    run = runs["none"]
    wanted = {rid for name in FAULTS for rid in REFERENCE_FAULTS[name].breaks}
    assert wanted <= set(run.verdicts), run.output
    assert run.not_passed() == {}, run.output
    assert run.status == 0, run.output


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_switch_fails_exactly_its_requirements(runs: dict[str, Run], fault: str) -> None:
    run = runs[fault]
    failed = {rid for rid, verdict in run.verdicts.items() if verdict == "FAIL"}
    assert failed == set(REFERENCE_FAULTS[fault].breaks), run.output
    others = {rid: v for rid, v in run.not_passed().items() if rid not in failed}
    assert others == {}, f"{fault} disturbed: {others}\n{run.output}"
    assert run.status == 1, run.output
