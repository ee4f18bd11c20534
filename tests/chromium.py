"""Debian's headless Chromium, as the tests that look at pages as a person would start it.

One place for the flags: as root, on a machine whose network is closed, Chromium needs the
sandbox off and its background connections (updates, sync, QUIC) off, or it tries them at every
start. A test module marks itself ``pytestmark = [..., needs_chromium]`` to be skipped, with the
reason, where Chromium is not installed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


def flags(width: int = 1280, height: int = 1000) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={width},{height}",
    ]


def chromium(profile_dir: Path, *args: str, width: int = 1280) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run with a fresh profile folder of the caller's."""
    return subprocess.run(
        [CHROMIUM, *flags(width), f"--user-data-dir={profile_dir}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
