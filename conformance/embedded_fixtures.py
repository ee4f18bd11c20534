"""Fixtures that put the embedded reference portal behind the harness's interfaces.

The steps of ``ninsho.conformance.steps`` ask for five fixtures, and only these: ``driver``,
``operator``, ``mailbox``, ``portal_clock`` and ``profile``. This plugin provides them for the
embedded reference, on virtual time, with a fresh portal for every scenario so that no scenario
sees another's accounts, codes or clock. The full harness plugin provides the same names for a
deployed portal, which is why the features run unchanged against either.

Two profiles are kept apart on purpose:

* ``profile`` is what the *features judge by* (the requirements: window, lifetimes, digits);
* ``portal_profile`` and ``portal_rules`` are what the *embedded portal runs with*.

They are the same in a normal run. The project's own tests override ``portal_profile`` or
``portal_rules`` to run the features against a portal with one rule broken, and the features,
still judging by ``profile``, must fail.
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
from ninsho.reference.core.rules import Rules
from ninsho.reference.embedded import Embedded, embedded_portal
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

PROFILE_NAME = "iimc"  # the portal of the manuals, the project's default profile

InProcessParts = tuple[InProcessDriver, InProcessOperator, OutboxMailbox, VirtualPortalClock]


@pytest.fixture
def profile() -> Profile:
    """The profile the features judge by: steps only read its attributes."""
    return load_profile(PROFILE_NAME)


@pytest.fixture
def portal_profile(profile: Profile) -> Profile:
    """The profile the embedded portal runs with: the judged one, unless a test breaks it."""
    return profile


@pytest.fixture
def portal_rules() -> type[Rules]:
    """The portal's rules: the reference's own, unless a test injects a broken subclass."""
    return Rules


@pytest.fixture
def embedded(request: pytest.FixtureRequest, portal_profile: Profile, portal_rules: type[Rules]) -> Embedded:
    """A fresh portal per scenario, seeded from the test's ID so that a failure reproduces."""
    seed = zlib.crc32(request.node.nodeid.encode("utf-8"))
    return embedded_portal(portal_profile, seed=seed, rules=portal_rules)


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
