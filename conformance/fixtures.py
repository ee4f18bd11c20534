"""The fixtures every check and feature step uses: ``portal`` and its parts.

``portal`` is a :class:`~ninsho.conformance.target.Target`. The parts under their own names
(``driver``, ``operator``, ``mailbox``, ``portal_clock``, ``profile``) are what the feature steps
ask for; they come from the same target, so a scenario's evidence lands in one transcript.
"""

from __future__ import annotations

import pytest

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.connect import Connection, connection_for
from ninsho.conformance.drivers.embedded import EmbeddedFactory, embedded_target, factory
from ninsho.conformance.interfaces import Clock, Driver, Mailbox, Operator
from ninsho.conformance.keys import CONFIG_KEY, TARGET_KEY
from ninsho.conformance.realtime import waits_for
from ninsho.conformance.target import Target
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile


@pytest.fixture(scope="session")
def ninsho_config(request: pytest.FixtureRequest) -> PortalConfig:
    config: PortalConfig = request.config.stash[CONFIG_KEY]
    return config


@pytest.fixture(scope="session")
def ninsho_profile(ninsho_config: PortalConfig) -> Profile:
    """The profile the portal is *judged* by."""
    return load_profile(ninsho_config.profile)


@pytest.fixture(scope="session")
def ninsho_embedded_factory(request: pytest.FixtureRequest) -> EmbeddedFactory:
    """How an embedded portal is built: the reference, or with ``--ninsho-fault`` one of the
    deliberately faulty portals that prove the harness."""
    fault = request.config.getoption("ninsho_fault", None)
    return factory(fault)


@pytest.fixture(scope="session")
def ninsho_connection(request: pytest.FixtureRequest) -> Connection | None:
    return connection_for(request.config)


@pytest.fixture
def portal(
    request: pytest.FixtureRequest,
    ninsho_profile: Profile,
    ninsho_connection: Connection | None,
    ninsho_embedded_factory: EmbeddedFactory,
) -> Target:
    if ninsho_connection is None:
        target = embedded_target(ninsho_embedded_factory(ninsho_profile), ninsho_profile)
    else:
        target = ninsho_connection.target()
    # Kept on the test item: feature steps ask for fixtures by name at run time, which pytest
    # does not record in item.funcargs, and the report needs this target's evidence.
    request.node.stash[TARGET_KEY] = target
    target.waits_for = waits_for(getattr(request.node, "function", None)) or ""
    request.addfinalizer(target.close)  # a pool's accounts go back, restored, when the check ends
    return target


@pytest.fixture
def driver(portal: Target) -> Driver:
    return portal.browser()


@pytest.fixture
def operator(portal: Target) -> Operator:
    return portal.operator


@pytest.fixture
def mailbox(portal: Target) -> Mailbox:
    return portal.inbox  # with the configured [mailbox] timeout_seconds, never a constant


@pytest.fixture
def portal_clock(portal: Target) -> Clock:
    return portal.clock


@pytest.fixture
def profile(portal: Target) -> Profile:
    return portal.profile


@pytest.fixture
def margin_seconds(portal: Target) -> float:
    """How far from a time boundary a step aims (the run's base margin: timing.margin_for)."""
    return portal.margin_seconds
