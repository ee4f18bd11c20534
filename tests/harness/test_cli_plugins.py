"""``ninsho check`` loads the plugins a conformance run needs, not every installed one."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ninsho.conformance.cli import NEEDED_PLUGINS, parser, pytest_args
from tests.web.support import NINSHO


def plugins_line(tmp_path: Path, *options: str) -> str:
    """The "plugins:" line of pytest's header for one real ``ninsho check`` run (one probe)."""
    command = [NINSHO, "check", "-k", "test_totp_window", "--report-dir", str(tmp_path), *options]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return next(line for line in done.stdout.splitlines() if line.startswith("plugins:"))


def test_only_the_needed_plugins_are_asked_for() -> None:
    argv = pytest_args(parser().parse_args([]), [])
    assert "--disable-plugin-autoload" in argv
    asked = {argv[i + 1] for i, option in enumerate(argv) if option == "-p"}
    assert set(NEEDED_PLUGINS) <= asked
    everything = pytest_args(parser().parse_args(["--all-plugins"]), [])
    assert "--disable-plugin-autoload" not in everything
    assert not set(NEEDED_PLUGINS) & {everything[i + 1] for i, o in enumerate(everything) if o == "-p"}


def test_a_run_loads_ninsho_and_pytest_bdd_but_not_the_test_environments_plugins(tmp_path: Path) -> None:
    default = plugins_line(tmp_path)
    assert "bdd-" in default and "ninsho" in default, default
    assert "hypothesis" not in default, default  # installed here (the [test] extra), not needed there
    assert "hypothesis" in plugins_line(tmp_path, "--all-plugins")
