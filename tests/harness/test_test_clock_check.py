"""TEST_CLOCK_DISABLED_BY_DEFAULT from outside: a portal left with its test clock on, in a run
that does not use it, FAILs; the same portal without it PASSes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ninsho.conformance.clocks import TestClock
from ninsho.conformance.interfaces import DriverError
from tests.harness.test_http_harness import ADMIN_TOKEN, TOKEN_ENV, harness_server, ninsho_check, portal_toml
from tests.web.support import cli_env


def verdict(workdir: Path, *, test_clock: bool) -> str:
    server = harness_server(workdir / "server", test_clock=test_clock).start()
    try:
        config = portal_toml(workdir / "portal.toml", server, "json", clock="real")
        env = cli_env(**{TOKEN_ENV: ADMIN_TOKEN})
        run = ninsho_check(workdir, str(config), "-m", "TEST_CLOCK_DISABLED_BY_DEFAULT", env=env, timeout=300)
    finally:
        server.stop()
    rows = run.rows()
    assert "TEST_CLOCK_DISABLED_BY_DEFAULT" in rows, run.output
    return str(rows["TEST_CLOCK_DISABLED_BY_DEFAULT"]["verdict"])


@pytest.mark.slow
@pytest.mark.parametrize(("test_clock", "expected"), [(False, "PASS"), (True, "FAIL")])
def test_a_test_clock_left_on_is_found(tmp_path: Path, test_clock: bool, expected: str) -> None:
    assert verdict(tmp_path, test_clock=test_clock) == expected


@pytest.mark.parametrize(
    ("answer", "lanes"),
    [
        ({"now": 1_700_000_000.0, "offset_seconds": 0, "lanes": True}, True),
        ({"now": 1_700_000_000.0, "offset_seconds": 0}, False),
        ({"now": 1_700_000_000.0, "offset_seconds": 0, "lanes": "yes"}, False),  # only true is true
    ],
)
def test_the_harness_reads_whether_the_test_clock_keeps_lanes(answer: dict[str, object], lanes: bool) -> None:
    """Canned answers (httpx.MockTransport) of portals other than the reference, which says true."""
    client = httpx.Client(
        base_url="http://portal.test/",
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json=answer)),
    )
    clock = TestClock(client, {})
    assert (clock.lanes, clock.now()) == (lanes, 1_700_000_000.0)


@pytest.mark.parametrize(
    "body", [b"<html>not json</html>", b"[]", b'{"offset_seconds": 0}', b'{"now": "soon"}']
)
def test_a_test_clock_answer_that_says_no_time_is_one_clear_error(body: bytes) -> None:
    """Canned answers (httpx.MockTransport): a portal's broken extension, never a traceback."""
    client = httpx.Client(
        base_url="http://portal.test/",
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body)),
    )
    with pytest.raises(DriverError) as raised:
        TestClock(client, {})
    message = str(raised.value)
    assert "test clock answered" in message and "\n" not in message and "Traceback" not in message, message
