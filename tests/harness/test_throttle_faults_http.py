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

import pytest

from tests.harness.fault_runs import assert_fails_exactly, fault_runs
from tests.harness.test_http_harness import Run

THROTTLE_FAULTS = ("no-password-throttle", "mail-flood")
CAUGHT_BY = {
    "no-password-throttle": ("test_password_guessing_is_throttled_by_account",),
    "mail-flood": ("test_mails_to_one_address_are_limited", "test_mail_limit_lifts_after_its_window"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    return fault_runs(tmp_path_factory, THROTTLE_FAULTS)


@pytest.mark.slow
@pytest.mark.parametrize("fault", THROTTLE_FAULTS)
def test_faulty_server_fails_exactly_its_requirement(runs: dict[str, Run], fault: str) -> None:
    assert_fails_exactly(runs[fault], fault, "test_throttling.py", CAUGHT_BY[fault])
