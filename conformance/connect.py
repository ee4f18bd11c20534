"""Connecting the harness to a portal: the embedded reference, a built-in driver or a vendor's.

A vendor adds a driver without forking: a package declares an entry point in the group
``ninsho.drivers`` whose object is a ``connect(config, profile) -> Connection`` function, and
the portal config names it (``driver = "myportal"``). docs/drivers.md shows a complete example.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Protocol

import pytest

from ninsho.conformance.config import ConfigError, PortalConfig
from ninsho.conformance.errors import LocalError
from ninsho.conformance.interfaces import DriverError
from ninsho.conformance.keys import CONFIG_KEY, CONNECTION_KEY
from ninsho.conformance.messages import did_you_mean, one_line
from ninsho.conformance.results import EXIT_ERROR
from ninsho.conformance.startup import StartFailed
from ninsho.conformance.target import Target
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

ENTRY_POINT_GROUP = "ninsho.drivers"
BUILTIN = {
    "json": "ninsho.conformance.drivers.json_api:connect",
    "html": "ninsho.conformance.drivers.html:connect",
}


class Connection(Protocol):
    """A session-wide link to a deployed portal."""

    def target(self) -> Target:
        """A fresh target for one check: new browsers, fresh accounts, the shared mailbox and clock."""
        ...

    def close(self) -> None: ...

    # Optional: ``lacks() -> Mapping[str, str]``, the registry's areas whose flow the portal
    # has not, each with the declaration that says so (docs/drivers.md; hooks._lacks).


Connector = Callable[[PortalConfig, Profile], Connection]


def connector(name: str) -> Connector:
    if name in BUILTIN:
        module, _, attribute = BUILTIN[name].partition(":")
        found: Connector = getattr(import_module(module), attribute)
        return found
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            loaded: Connector = entry.load()
            return loaded
    raise ConfigError("portal.driver", unknown_driver(name))


def known_drivers() -> list[str]:
    """The built-in drivers and every installed vendor's (entry point group ``ninsho.drivers``)."""
    return sorted({"inprocess", *BUILTIN, *(e.name for e in entry_points(group=ENTRY_POINT_GROUP))})


def unknown_driver(name: str) -> str:
    known = known_drivers()
    return f"no driver {name!r}{did_you_mean(name, known)} (known: {', '.join(known)})"


def check_driver(name: str) -> None:
    """Before the session starts: a driver that no package provides ends the run in one line."""
    if name not in known_drivers():
        raise ConfigError("portal.driver", unknown_driver(name))


def connect(config: PortalConfig, profile: Profile) -> Connection:
    return connector(config.driver)(config, profile)


def connection_for(config: pytest.Config) -> Connection | None:
    """The run's one connection to a deployed portal, opened on first use (None: embedded).
    The plugin opens it before any check (the pre-flight), and closes it when the run ends;
    :class:`StartFailed` when it cannot be opened."""
    portal_config = config.stash[CONFIG_KEY]
    if portal_config.embedded:
        return None
    if CONNECTION_KEY not in config.stash:
        try:
            config.stash[CONNECTION_KEY] = connect(portal_config, load_profile(portal_config.profile))
        except ConfigError as exc:
            raise StartFailed(str(exc), pytest.ExitCode.USAGE_ERROR) from None
        except LocalError as exc:
            # This machine's side, not the portal: say so, or someone debugs the wrong network.
            raise StartFailed(f"on this machine: {one_line(str(exc))}", EXIT_ERROR) from None
        except DriverError as exc:
            # Nothing can be judged: one clear line, the ERROR exit status, no traceback.
            raise StartFailed(
                f"cannot reach the portal at {portal_config.base_url}: {one_line(str(exc))}", EXIT_ERROR
            ) from None
    connection: Connection = config.stash[CONNECTION_KEY]
    return connection
