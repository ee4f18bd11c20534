"""TEST_CLOCK_DISABLED_BY_DEFAULT from outside: a portal left with its test clock on, in a run
that does not use it, FAILs; the same portal without it PASSes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.report_rows import judged
from tests.harness.test_http_harness import ADMIN_TOKEN, TOKEN_ENV, harness_server, portal_toml
from tests.web.support import cli_env

NINSHO = str(Path(sys.executable).with_name("ninsho"))


def verdict(workdir: Path, *, test_clock: bool) -> str:
    server = harness_server(workdir / "server", test_clock=test_clock).start()
    try:
        config = portal_toml(workdir / "portal.toml", server, "json", clock="real")
        done = subprocess.run(
            [
                NINSHO,
                "check",
                str(config),
                "-q",
                "--report-dir",
                str(workdir),
                "-m",
                "TEST_CLOCK_DISABLED_BY_DEFAULT",
            ],
            cwd=workdir,
            env=cli_env(**{TOKEN_ENV: ADMIN_TOKEN}),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.stop()
    rows = {row["id"]: row for row in judged(json.loads((workdir / "ninsho.json").read_text("utf-8")))}
    assert "TEST_CLOCK_DISABLED_BY_DEFAULT" in rows, done.stdout[-3000:] + done.stderr[-2000:]
    return str(rows["TEST_CLOCK_DISABLED_BY_DEFAULT"]["verdict"])


@pytest.mark.slow
@pytest.mark.parametrize(("test_clock", "expected"), [(False, "PASS"), (True, "FAIL")])
def test_a_test_clock_left_on_is_found(tmp_path: Path, test_clock: bool, expected: str) -> None:
    assert verdict(tmp_path, test_clock=test_clock) == expected
