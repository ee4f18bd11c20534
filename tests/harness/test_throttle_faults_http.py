"""Over real HTTP, the faults of issue #14's throttling: each ``ninsho serve --fault NAME`` FAILs
exactly its requirement in a whole run through the JSON driver, nothing else disturbed, and the
check written for it is the one that FAILs it. (In process every fault runs in
tests/harness/test_faulty_portals.py, the two below with ``throttle-by-account-only`` and
``mails-while-locked``.)

- ``no-password-throttle``: PASSWORD_THROTTLE, by the right password after ``max_failures``
  wrong ones (defect 3: 200 wrong passwords, then the right one worked);
- ``mail-flood``: MAIL_RATE_LIMIT, by the request after ``per_address`` mails (defect 7: 30
  requests, 30 mails in 2.8 s).

Each run's client is the server's one loopback address, as every harness's is (spec §3.1): the
throttle the first fault lacks is judged by account, and the run's other checks, which make one
wrong password each, never reach it.
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

THROTTLE_FAULTS = ("no-password-throttle", "mail-flood")
CAUGHT_BY = {
    "no-password-throttle": ("test_password_guessing_is_throttled_by_account",),
    "mail-flood": ("test_mails_to_one_address_are_limited", "test_mail_limit_lifts_after_its_window"),
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
        futures = {
            f: pool.submit(run_fault, tmp_path_factory.mktemp(f"json-{f}"), f) for f in THROTTLE_FAULTS
        }
        yield {fault: future.result() for fault, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("fault", THROTTLE_FAULTS)
def test_faulty_server_fails_exactly_its_requirement(runs: dict[str, Run], fault: str) -> None:
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
        assert f"test_throttling.py::{check}" in run.output, (check, run.output)
