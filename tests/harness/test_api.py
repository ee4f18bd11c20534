"""The vendor surface, ``ninsho.conformance.api``: pinned, importable, and all a driver needs."""

from __future__ import annotations

import ast
from pathlib import Path

import ninsho.conformance.api as api

ROOT = Path(__file__).resolve().parents[2]
PINNED = {
    "Account", "Clock", "ConfigError", "Connection", "Connector", "Driver", "DriverError",
    "Enroller", "Exchange", "HarnessError", "ImapMailbox", "Inconclusive", "LinkFollower", "Mail", "MailTimeout",
    "Mailbox", "NotApplicable", "NotSupported", "Operator", "Outcome", "PortalConfig", "Profile",
    "Provisioning", "RealClock", "ServerError", "SmtpSinkMailbox", "Target", "load_profile",
    "mailbox_for",
}  # fmt: skip


def test_the_surface_is_pinned() -> None:
    assert set(api.__all__) == PINNED
    assert len(api.__all__) == len(set(api.__all__))


def test_every_name_is_there() -> None:
    missing = [name for name in api.__all__ if not hasattr(api, name)]
    assert missing == []


def test_the_errors_a_driver_raises_are_one_tree() -> None:
    for name in (
        "ConfigError",
        "DriverError",
        "Inconclusive",
        "MailTimeout",
        "NotApplicable",
        "NotSupported",
    ):
        assert issubclass(getattr(api, name), api.HarnessError), name


def test_the_vendor_example_uses_only_the_surface() -> None:
    """The privacyIDEA driver is what a vendor writes: it imports Ninsho only through the api."""
    example = ROOT / "examples" / "privacyidea_driver" / "ninsho_privacyidea"
    used = set()
    for path in example.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ninsho"):
                used.add(node.module)
            elif isinstance(node, ast.Import):
                used |= {a.name for a in node.names if a.name.startswith("ninsho.")}
    assert used == {"ninsho.conformance.api"}
