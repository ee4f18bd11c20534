"""Schemathesis against a served portal: every operation of ``spec/openapi.yaml`` fed data
generated from its own schema, valid and not, and never a 5xx (issue "Sessions, throttling and
mail safety": security tests that stay). A 400 must be one the schema explains: a request within
its schemas (a code's digits narrowed to the profile) is never refused for its shape, only an
address for §13's reasons (tests/web/test_schema_bounds.py probes each bound both ways).

The review that opened the issue ran 17,874 cases by hand. CI keeps a bounded share of that:
:data:`EXAMPLES` cases an operation, on ``ninsho serve`` with a real SQLite file, over loopback.
Cases carry a real session token (the admin token on the admin operations), so the operations
behind the login are reached, not only their 401 (tests/web/test_bad_input.py holds the 401s).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet

from ninsho.spec.registry import load_profile

from .request_bounds import RequestSchemas, within
from .support import ADMIN_TOKEN, REPO, ServerProcess

SPEC = REPO / "spec" / "openapi.yaml"
EXAMPLES = 25  # per operation: 22 operations, about a minute on a quiet machine
PASSWORD = "schema-fuzz-password-0123456789"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("schema-fuzz")).start()
    try:
        created = httpx.post(
            server.url + "/api/v1/admin/users",
            json={"login_id": "fuzz0001", "password": PASSWORD},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def session_token(served: ServerProcess) -> str:
    """A session in the setup stage: the account has no factor yet, so settings are open to it."""
    answer = httpx.post(
        served.url + "/api/v1/login", json={"login_id": "fuzz0001", "password": PASSWORD}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["session"])


# Read once, at collection: one test per operation, named by its label ("POST /login").
OPERATIONS = [result.ok() for result in schemathesis.openapi.from_path(SPEC).get_all_operations()]
SCHEMAS = RequestSchemas()
PROFILE = load_profile("iimc")  # ServerProcess's default
# The lane header's schema, as the binding states it (spec/openapi.yaml, TestClockLane).
LANE_SCHEMA = SCHEMAS.doc["components"]["parameters"]["TestClockLane"]["schema"]


def refused_only_outside_its_schema(case: schemathesis.Case, response: Any, base_url: str) -> None:
    """A 400 answers a request outside its schemas, an address §13 refuses (invalid_address), or
    an advance of the test clock past the range of the sum, ``TestClock.offset_seconds``."""
    if response.status_code != 400:
        return
    answer = response.json()
    if answer.get("error") == "invalid_address":
        return
    body = None if isinstance(case.body, NotSet) else case.body
    operation_id = case.operation.definition.raw["operationId"]
    inside = SCHEMAS.case_within(operation_id, body, case.path_parameters or {}, PROFILE)
    lane = {k: v for k, v in (case.headers or {}).items() if k.lower() == "ninsho-test-clock-lane"}
    if lane and not all(within(LANE_SCHEMA, str(v)) for v in lane.values()):
        inside = False  # a lane name outside its pattern (spec/openapi.yaml, TestClockLane)
    if inside and operation_id == "testClockAdvance" and isinstance(body, dict):
        # The offset of the case's own lane, where the advance was refused (spec §17, "Lanes").
        offset = httpx.get(base_url + "/test-clock", headers=lane, timeout=20).json()["offset_seconds"]
        offsets = SCHEMAS.resolve(SCHEMAS.doc["components"]["schemas"]["TestClock"])["properties"]
        inside = within(offsets["offset_seconds"], offset + body["advance_seconds"])
    assert not inside, f"{case.method} {case.path}: within its schemas, refused as {answer} ({body!r})"


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_no_operation_answers_a_server_error(
    operation: Any, session_token: str, served: ServerProcess
) -> None:
    """Schemathesis' pytest integration does not run under pytest 9 (it reads a private
    attribute of pytest's items), so each operation's strategy is driven by Hypothesis here."""
    token = ADMIN_TOKEN if operation.path.startswith("/admin/") else session_token

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,  # no .hypothesis folder left in the tree; the failing case is printed
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def fed(case: schemathesis.Case) -> None:
        headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call(base_url=served.url + "/api/v1", headers=headers, timeout=20)
        case.validate_response(response, checks=[not_a_server_error])
        refused_only_outside_its_schema(case, response, served.url + "/api/v1")

    fed()
