"""Everything a vendor's driver needs, in one module: ``from ninsho.conformance.api import …``.

A driver package (docs/drivers.md) depends on these names and nothing else of Ninsho, so the
harness can rearrange its insides without breaking anyone's driver. tests/harness/test_api.py
pins the list: a name leaves it only with a note in the changes.
"""

from __future__ import annotations

from ninsho.conformance.clocks import RealClock
from ninsho.conformance.config import PortalConfig
from ninsho.conformance.connect import Connection, Connector
from ninsho.conformance.errors import (
    ConfigError,
    DriverError,
    HarnessError,
    Inconclusive,
    MailTimeout,
    NotApplicable,
    NotSupported,
    ServerError,
)
from ninsho.conformance.interfaces import (
    Account,
    Clock,
    Driver,
    Enroller,
    Exchange,
    LinkFollower,
    Mail,
    Mailbox,
    Operator,
    Outcome,
    Provisioning,
)
from ninsho.conformance.mailboxes import ImapMailbox, SmtpSinkMailbox, mailbox_for
from ninsho.conformance.target import Target
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

__all__ = [
    "Account",
    "Clock",
    "ConfigError",
    "Connection",
    "Connector",
    "Driver",
    "DriverError",
    "Enroller",
    "Exchange",
    "HarnessError",
    "ImapMailbox",
    "Inconclusive",
    "LinkFollower",
    "Mail",
    "MailTimeout",
    "Mailbox",
    "NotApplicable",
    "NotSupported",
    "Operator",
    "Outcome",
    "PortalConfig",
    "Profile",
    "Provisioning",
    "RealClock",
    "ServerError",
    "SmtpSinkMailbox",
    "Target",
    "load_profile",
    "mailbox_for",
]
