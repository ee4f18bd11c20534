"""Fixtures that put the embedded reference portal behind the harness's interfaces, for the
project's own feature tests (test-only: it lives here, not in the installed harness).

The steps of ``ninsho.conformance.steps`` ask for six fixtures, and only these: ``driver``,
``operator``, ``mailbox``, ``portal_clock``, ``profile`` and ``margin_seconds``. This module provides them for the
embedded reference, on virtual time, with a fresh portal for every scenario so that no scenario
sees another's accounts, codes or clock. The harness plugin provides the same names for a
deployed portal, which is why the features run unchanged against either.

``profile`` is what the *features judge by* (the requirements: window, lifetimes, digits).
``portal_fault`` names a deliberately faulty portal of ``ninsho.reference.faults`` for the
embedded portal to be, or is ``None`` for the reference itself: tests/features/test_broken_rules.py
overrides it, and the features, still judging by ``profile``, must fail.
"""

from __future__ import annotations

import zlib

import pytest

from ninsho.conformance.drivers.inprocess import (
    InProcessDriver,
    InProcessOperator,
    OutboxMailbox,
    VirtualPortalClock,
    inprocess_parts,
)
from ninsho.reference.embedded import Embedded, embedded_portal
from ninsho.reference.faults import FAULTS
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile, requirements

PROFILE_NAME = "iimc"  # the portal of the manuals, the project's default profile
LINK_PROFILE_NAME = "iimc-2021"  # the 2021 portal, for the scenarios of its reset by link

InProcessParts = tuple[InProcessDriver, InProcessOperator, OutboxMailbox, VirtualPortalClock]


@pytest.fixture
def profile(request: pytest.FixtureRequest) -> Profile:
    """The profile the features judge by: steps only read its attributes. A scenario tagged
    with a requirement that iimc rules out (the reset link's, protocol.md §19.1) is the 2021
    portal's, and is judged, and run, under iimc-2021."""
    base, registry = load_profile(PROFILE_NAME), requirements()
    tags = {marker.name for marker in request.node.iter_markers() if marker.name in registry}
    if any(registry[tag].inapplicable(base) for tag in tags):
        return load_profile(LINK_PROFILE_NAME)
    return base


@pytest.fixture
def portal_fault() -> str | None:
    """The fault the embedded portal has (a name of ``FAULTS``): none, unless a test breaks it."""
    return None


@pytest.fixture
def embedded(request: pytest.FixtureRequest, profile: Profile, portal_fault: str | None) -> Embedded:
    """A fresh portal per scenario, seeded from the test's ID so that a failure reproduces."""
    seed = zlib.crc32(request.node.nodeid.encode("utf-8"))
    if portal_fault is None:
        return embedded_portal(profile, seed=seed)
    return FAULTS[portal_fault].build(profile, seed=seed)


@pytest.fixture
def inprocess(embedded: Embedded) -> InProcessParts:
    return inprocess_parts(embedded)


@pytest.fixture
def driver(inprocess: InProcessParts) -> InProcessDriver:
    """One browser on the embedded portal."""
    return inprocess[0]


@pytest.fixture
def operator(inprocess: InProcessParts) -> InProcessOperator:
    """Test accounts and the ICT Support Center of the embedded portal."""
    return inprocess[1]


@pytest.fixture
def mailbox(inprocess: InProcessParts) -> OutboxMailbox:
    """The embedded outbox, read as a mailbox."""
    return inprocess[2]


@pytest.fixture
def portal_clock(inprocess: InProcessParts) -> VirtualPortalClock:
    """The portal's virtual clock: ``advance`` lets time pass without sleeping."""
    return inprocess[3]


@pytest.fixture
def margin_seconds() -> float:
    """How far from a time boundary a step aims: virtual time is exact, as the embedded target's
    margin (conformance/drivers/embedded.py) is."""
    return 1.0
