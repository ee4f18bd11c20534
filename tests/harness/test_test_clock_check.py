"""TEST_CLOCK_DISABLED_BY_DEFAULT from outside: a portal left with its test clock on, in a run
that does not use it, FAILs; the same portal without it PASSes."""

from __future__ import annotations

from pathlib import Path

import pytest

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
