"""Feature tags as pytest markers, registered from data so ``--strict-markers`` holds.

A scenario carries two kinds of tags, and nothing else:

* the requirement IDs it checks, e.g. ``@TOTP_WINDOW``: exactly the IDs of the registry
  ``spec/requirements.toml`` (shipped as ``ninsho.spec``), so a misspelt or retired ID fails
  collection instead of silently selecting nothing;
* its manual source, ``@manual_<manual>`` with the manual's file stem in snake case, e.g.
  ``@manual_app_reset`` for ``app-reset.en.txt``. (A colon, as in ``manual:app-reset``, cannot
  be a marker: pytest reads ``name: description`` when it registers one.)

Select with ``-m``: ``pytest -m "TOTP_WINDOW and manual_app_reset"``.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files

import pytest

# The manuals that features transcribe, by file stem (spec/protocol.md names them).
MANUALS = ("initial-setup", "email-change", "app-reset", "faq-totp-reset-2021")
MANUAL_TAG_PREFIX = "manual_"


def manual_tag(stem: str) -> str:
    """``app-reset`` → ``manual_app_reset``."""
    return MANUAL_TAG_PREFIX + stem.replace("-", "_")


def requirement_ids() -> dict[str, str]:
    """The registry's IDs with their one-line statements."""
    registry = files("ninsho.spec") / "requirements.toml"
    if not registry.is_file():
        raise pytest.UsageError(
            "spec/requirements.toml (package ninsho.spec) is missing: the feature tags cannot be "
            "checked against the requirement registry"
        )
    table = tomllib.loads(registry.read_text(encoding="utf-8"))["requirements"]
    return {rid: str(entry.get("statement", "")).replace("\n", " ") for rid, entry in table.items()}


def allowed_tags() -> set[str]:
    """Every tag a feature may carry."""
    return set(requirement_ids()) | {manual_tag(m) for m in MANUALS}


def pytest_configure(config: pytest.Config) -> None:
    for rid, statement in sorted(requirement_ids().items()):
        config.addinivalue_line("markers", f"{rid}: requirement {rid}: {statement}")
    for stem in MANUALS:
        config.addinivalue_line("markers", f"{manual_tag(stem)}: transcribed from the manual {stem}")
