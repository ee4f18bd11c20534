"""Whole JSON runs against ``ninsho serve --fault NAME``, and the verdict each must give: the
faults' FAIL exactly their requirements, nothing else disturbed, and the check written for a
fault is the one that FAILs it. Shared by the modules that prove a group of faults over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ninsho.reference.faults import FAULTS
from tests.harness.report_rows import ruled_out_by
from tests.harness.test_http_harness import JSON_NOT_APPLICABLE, Run, harness_server, run_harness


def run_fault(workdir: Path, fault: str) -> Run:
    """The whole suite through the JSON driver against one faulty server, stopped whatever happens."""
    server = harness_server(workdir, fault)
    try:
        server.start()
        return run_harness(workdir, server, "json")
    finally:
        server.stop()


def fault_runs(tmp_path_factory: pytest.TempPathFactory, faults: Iterable[str]) -> dict[str, Run]:
    """One run per fault, two at a time (this machine's cores)."""
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        futures = {f: pool.submit(run_fault, tmp_path_factory.mktemp(f"json-{f}"), f) for f in faults}
        return {fault: future.result() for fault, future in futures.items()}


def assert_fails_exactly(run: Run, fault: str, checks_file: str, caught_by: Sequence[str]) -> None:
    """FAIL of the fault's requirements and nothing else (what the correct reference rules out
    may read NOT_APPLICABLE), exit status 1, and each check of ``caught_by`` in ``checks_file``
    among those reported."""
    failed = {rid for rid, verdict in run.verdicts.items() if verdict == "FAIL"}
    assert failed == set(FAULTS[fault].breaks), f"{fault}: {FAULTS[fault].description}\n{run.output}"
    others = {rid: v for rid, v in run.not_passed().items() if rid not in failed}
    allowed = set(JSON_NOT_APPLICABLE) | set(ruled_out_by("iimc"))  # as on the correct reference
    assert set(others) <= allowed and set(others.values()) <= {"NOT_APPLICABLE"}, (
        f"{fault} disturbed: {others}"
    )
    assert run.status == 1, run.output
    for check in caught_by:
        assert f"{checks_file}::{check}" in run.output, (check, run.output)
