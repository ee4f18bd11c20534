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

import pytest

from tests.harness.fault_runs import assert_fails_exactly, fault_runs
from tests.harness.test_http_harness import Run

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


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    return fault_runs(tmp_path_factory, PURPOSE_FAULTS)


@pytest.mark.slow
@pytest.mark.parametrize("fault", PURPOSE_FAULTS)
def test_faulty_server_fails_exactly_its_requirements(runs: dict[str, Run], fault: str) -> None:
    assert_fails_exactly(runs[fault], fault, "test_purposes.py", CAUGHT_BY[fault])
