"""The harness's address checks under another university's blocked domains.

``--ninsho-profile FILE`` sets the profile the run judges by, and the embedded reference runs
with the same profile (conformance.fixtures), so with a profile that extends iimc with the
University of Tokyo's domains the address vectors are made from that list: the checks must
judge (PASS against the reference, FAIL against a faulty portal), never answer NOT_APPLICABLE.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harness.report_rows import judged

U_TOKYO = Path(__file__).resolve().parents[1] / "core" / "data" / "u-tokyo.toml"
ADDRESS_IDS = (
    "EMAIL_BLOCKED_DOMAIN",
    "EMAIL_BLOCKED_SUBDOMAIN",
    "EMAIL_LOOKALIKE_ACCEPTED",
    "EMAIL_ADDRESS_NORMALIZATION",
    "EMAIL_ADDRESS_SYNTAX",
)


def run(pytester: pytest.Pytester, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    report = Path(pytester.path) / "report.json"
    # A copy beside the run: a path under tests/ would make pytest load tests/conftest.py, since
    # it reads an option's value as a test path before the plugin has registered the option.
    profile = Path(pytester.path) / U_TOKYO.name
    profile.write_text(U_TOKYO.read_text("utf-8"), "utf-8")
    result = pytester.runpytest(
        "--pyargs",
        "ninsho.conformance.checks",
        "-p",
        "no:cacheprovider",
        "-q",
        "--ninsho-profile",
        str(profile),
        "-m",
        " or ".join(ADDRESS_IDS),
        "--ninsho-json",
        str(report),
        *args,
    )
    document = json.loads(report.read_text("utf-8"))
    return int(result.ret), {row["id"]: row for row in judged(document)}


def test_the_address_checks_judge_another_universitys_portal(pytester: pytest.Pytester) -> None:
    status, rows = run(pytester)
    assert status == 0
    assert {rid: rows[rid]["verdict"] for rid in ADDRESS_IDS} == dict.fromkeys(ADDRESS_IDS, "PASS")
    checks = {c["check"].rpartition("::")[2] for c in rows["EMAIL_BLOCKED_DOMAIN"]["checks"]}
    assert {"test_address_case[blocked-u-tokyo]", "test_address_case[blocked-ecc]"} <= checks
    probes = [
        c["check"] for row in rows.values() for c in row["checks"] if "test_address_case[" in c["check"]
    ]
    assert probes and not any("kyoto" in c for c in probes)  # the features' Examples name iimc's cases


def test_a_lookalike_fault_fails_only_its_requirement_there(pytester: pytest.Pytester) -> None:
    """``endswith("u-tokyo.ac.jp")`` refuses notu-tokyo.ac.jp: LOOKALIKE FAILs, the rest PASS."""
    status, rows = run(pytester, "--ninsho-fault", "endswith-domain-check")
    assert status == 1
    verdicts = {rid: rows[rid]["verdict"] for rid in ADDRESS_IDS}
    assert verdicts == dict.fromkeys(ADDRESS_IDS, "PASS") | {"EMAIL_LOOKALIKE_ACCEPTED": "FAIL"}
