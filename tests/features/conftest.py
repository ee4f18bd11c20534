"""Run the features against the embedded reference portal, on virtual time.

The fixtures are imported into this conftest (rather than registered as plugins) so that they
take precedence, inside this folder, over the same names that an installed harness plugin
provides for a configured portal. The step definitions and the tag markers are a plugin,
``ninsho.conformance.steps``, registered once for the session.
"""

from __future__ import annotations

import pytest

from .embedded_fixtures import (
    driver,
    embedded,
    inprocess,
    mailbox,
    margin_seconds,
    operator,
    portal_clock,
    portal_fault,
    profile,
)

__all__ = [
    "driver",
    "embedded",
    "inprocess",
    "mailbox",
    "margin_seconds",
    "operator",
    "portal_clock",
    "portal_fault",
    "profile",
]


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("ninsho.conformance.steps"):
        config.pluginmanager.import_plugin("ninsho.conformance.steps")
