"""A run's start: no report of an earlier run survives it, and a start that fails says so.

A CI job archives ``reports/``. A run that died at start (a bad driver, a missing variable, an
unreachable URL) used to leave the previous run's green reports in place, and the job published
a stale pass. So the reports a run will write are removed first, and a failed start writes
reports that say the run did not start, and why; the run then ends with one line.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest

from ninsho.conformance.errors import HarnessError


def report_paths(config: pytest.Config) -> list[Path]:
    """The reports this run will write: JSON, HTML, Markdown and pytest's JUnit."""
    junit = getattr(config.option, "xmlpath", None)  # absent when the junitxml plugin is off
    named = [
        config.getoption("ninsho_json"),
        config.getoption("ninsho_html"),
        config.getoption("ninsho_md"),
        junit,
    ]
    return [Path(p) for p in named if p]


def remove_stale_reports(config: pytest.Config) -> None:
    for path in report_paths(config):
        with contextlib.suppress(IsADirectoryError, NotADirectoryError, PermissionError):
            path.unlink(missing_ok=True)


def check_writable(config: pytest.Config) -> None:
    """Every report can be written, or the run does not start: finding out after an hour of
    real-time waits, from a traceback of pytest's JUnit writer, was the old way. One line
    names the path and why (a ValueError, which the plugin reports as a usage error)."""
    for path in report_paths(config):
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                raise IsADirectoryError(f"{path} is a directory")
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".ninsho-", delete=True):
                pass
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise ValueError(f"reports: cannot write {path}: {why}") from None


class StartFailed(HarnessError):
    """The run cannot start (no connection, a failed pre-flight): no check runs, the reports
    say so, and the run exits with ``status`` and this one line."""

    def __init__(self, line: str, status: int) -> None:
        super().__init__(line)
        self.status = status


def write_not_started(config: pytest.Config, line: str) -> None:
    when = datetime.now(UTC).isoformat(timespec="seconds")
    document = {"tool": "ninsho", "started": False, "error": line, "generated_at": when, "requirements": []}
    if path := config.getoption("ninsho_json"):
        _write(Path(path), json.dumps(document, ensure_ascii=False, indent=2))
    if path := config.getoption("ninsho_md"):
        _write(Path(path), f"## ⚠️ Ninsho: the run did not start\n\n{escape(line, quote=False)}\n\n({when})\n")
    if path := config.getoption("ninsho_html"):
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>Ninsho: the run did not start</title></head><body>"
            f"<h1>The run did not start</h1><p>{escape(line)}</p><p>{when}</p></body></html>\n"
        )
        _write(Path(path), page)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    except OSError:
        pass  # the start failed already; an unwritable report folder is not the news here
