"""``ninsho check`` takes none of the pytest settings of the folder it starts in: a QA
repository's addopts, filterwarnings and required_plugins are for that repository's tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ninsho.conformance.cli import HARNESS_INI
from tests.web.support import NINSHO

HOSTILE = """
[tool.pytest.ini_options]
addopts = "--numprocesses=2 --cov=src --strict-markers"
filterwarnings = ["error"]
required_plugins = ["pytest-nonexistent>=1"]
"""


def test_a_run_takes_none_of_the_folders_pytest_settings(tmp_path: Path) -> None:
    """Before, this folder stopped the run: "unrecognized arguments: --numprocesses=2 --cov=src"."""
    (tmp_path / "pyproject.toml").write_text(HOSTILE, "utf-8")
    (tmp_path / "tox.ini").write_text("[pytest]\naddopts = --bogus\n", "utf-8")
    command = [NINSHO, "check", "-k", "test_totp_window", "--report-dir", str(tmp_path / "reports")]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    header = {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip()
        for line in done.stdout.splitlines()[:6]
        if ":" in line
    }
    assert header["rootdir"] == str(tmp_path), done.stdout[:1500]
    assert (tmp_path / header["configfile"]).resolve() == HARNESS_INI.resolve(), done.stdout[:1500]
    assert (tmp_path / "reports" / "ninsho.json").is_file()


def test_the_harness_ini_sets_nothing() -> None:
    """The file exists to stand in for the folder's, so it holds no setting of its own."""
    lines = [line.strip() for line in HARNESS_INI.read_text("utf-8").splitlines()]
    assert [line for line in lines if line and not line.startswith("#")] == ["[pytest]"]
