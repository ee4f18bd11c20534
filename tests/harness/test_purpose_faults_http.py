"""Over real HTTP, the three faults of issue #18 that the harness used to miss: each ``ninsho serve
--fault NAME`` FAILs exactly its requirements in a whole run through the JSON driver, nothing
else disturbed. (tests/harness/test_html_faults.py runs every fault through the pages as well;
in process, tests/harness/test_faulty_portals.py.)

- ``count-reset-at-login``: LOCKOUT_THRESHOLD, by the failures spread over fresh logins;
- ``code-any-purpose``: CODE_BOUND_TO_PURPOSE, by the cross-purpose matrix;
- ``change-without-confirm``: EMAIL_REGISTRATION_CONFIRM and EMAIL_OTP_TO_REGISTERED_ADDRESS, by
  a signed-in change read in the settings and in the next login's mail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ninsho.reference.faults import FAULTS
from tests.harness.report_rows import ruled_out_by
from tests.harness.test_http_harness import JSON_NOT_APPLICABLE, Run, harness_server, run_harness

PURPOSE_FAULTS = ("count-reset-at-login", "code-any-purpose", "change-without-confirm")
# The check of each fault that must be the one to FAIL it: the probe that was missing.
CAUGHT_BY = {
    "count-reset-at-login": ("test_failure_count_survives_fresh_logins",),
    "code-any-purpose": ("test_code_refused_where_another_kind_is_expected",),
    "change-without-confirm": (
        "test_address_change_waits_for_its_confirmation",
        "test_login_code_goes_to_the_old_address_during_a_change",
    ),
}


def run_fault(workdir: Path, fault: str) -> Run:
    server = harness_server(workdir, fault)
    try:
        server.start()
        return run_harness(workdir, server, "json")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        futures = {f: pool.submit(run_fault, tmp_path_factory.mktemp(f"json-{f}"), f) for f in PURPOSE_FAULTS}
        yield {fault: future.result() for fault, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("fault", PURPOSE_FAULTS)
def test_faulty_server_fails_exactly_its_requirements(runs: dict[str, Run], fault: str) -> None:
    run = runs[fault]
    failed = {rid for rid, verdict in run.verdicts.items() if verdict == "FAIL"}
    assert failed == set(FAULTS[fault].breaks), f"{fault}: {FAULTS[fault].description}\n{run.output}"
    others = {rid: v for rid, v in run.not_passed().items() if rid not in failed}
    allowed = set(JSON_NOT_APPLICABLE) | set(ruled_out_by("iimc"))  # as on the correct reference
    assert set(others) <= allowed and set(others.values()) <= {"NOT_APPLICABLE"}, (
        f"{fault} disturbed: {others}"
    )
    assert run.status == 1, run.output
    for check in CAUGHT_BY[fault]:
        assert f"test_purposes.py::{check}" in run.output, (check, run.output)
