"""The harness against deliberately faulty portals: each fault FAILs exactly the requirements it
breaks, and the correct reference PASSes everything. Runs in process, with virtual time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ninsho.reference.faults import FAULTS
from ninsho.spec.registry import requirements
from tests.harness.report_rows import broken, judged, ruled_out_by, status_when_broken, unjudged


def run_checks(
    pytester: pytest.Pytester, fault: str | None, profile: str = "iimc"
) -> tuple[int, dict[str, str]]:
    args = [
        "--pyargs",
        "ninsho.conformance.checks",
        "-p",
        "no:cacheprovider",
        "-q",
        "--ninsho-profile",
        profile,
    ]
    if fault is not None:
        args += ["--ninsho-fault", fault]
    report = Path(pytester.path) / "ninsho.json"
    result = pytester.runpytest(*args, "--ninsho-json", str(report))
    document: dict[str, Any] = json.loads(report.read_text("utf-8"))
    not_testable = {rid for rid, r in requirements().items() if r.not_testable}
    assert {rid for rid, v in unjudged(document).items() if v == "NOT_TESTABLE"} == not_testable
    return int(result.ret), {row["id"]: row["verdict"] for row in judged(document)}


# In process there is no HTTP extension to look for: the one check that reads NOT_APPLICABLE
# on the embedded reference (tests/harness/test_test_clock_check.py judges it over HTTP).
# Under iimc, too, the reset link's requirements: it resets by code (protocol.md §19.1).
IN_PROCESS_NOT_APPLICABLE = dict.fromkeys(
    ["TEST_CLOCK_DISABLED_BY_DEFAULT", *ruled_out_by("iimc")], "NOT_APPLICABLE"
)


def test_correct_reference_passes_everything(pytester: pytest.Pytester) -> None:
    status, verdicts = run_checks(pytester, None)
    assert status == 0
    not_passed = {k: v for k, v in verdicts.items() if v != "PASS"}
    assert verdicts and not_passed == IN_PROCESS_NOT_APPLICABLE, not_passed


@pytest.mark.parametrize("fault", sorted(name for name, f in FAULTS.items() if f.proven_under == "iimc"))
def test_fault_fails_exactly_its_requirements(pytester: pytest.Pytester, fault: str) -> None:
    status, verdicts = run_checks(pytester, fault)
    failed = broken(verdicts)  # FAIL, or WARN for a SHOULD (forgets-login-id)
    assert failed == set(FAULTS[fault].breaks), f"{fault}: {FAULTS[fault].description}"
    assert status == status_when_broken(FAULTS[fault].breaks)
    others = {rid: v for rid, v in verdicts.items() if rid not in failed and v != "PASS"}
    assert others == IN_PROCESS_NOT_APPLICABLE, f"{fault} disturbed other verdicts: {others}"
