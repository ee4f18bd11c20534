"""A signed-in change of the registered address, sent but not yet confirmed (§7).

Until its code is entered the account's address stays as it was and login codes keep going to
the old one [EMAIL_REGISTRATION_CONFIRM] [EMAIL_OTP_TO_REGISTERED_ADDRESS]. The initial setup
was the only registration checked, so a portal that switched a registered address at "Send
One-Time Password" passed (issue #18 measured one). The checks judge what this leaves behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from ninsho.conformance.actions import mailed_code
from ninsho.conformance.errors import expect
from ninsho.conformance.interfaces import Driver, DriverError
from ninsho.conformance.probes.enrol import Enrolled, in_settings
from ninsho.conformance.target import Target


@dataclass(frozen=True)
class PendingChange:
    enrolled: Enrolled
    driver: Driver  # signed in, on the Mail tab after "Send One-Time Password"
    old: str  # the registered address
    new: str  # the address being registered, as the portal echoed it
    code: str  # mailed to ``new``, not entered


def pending_change(portal: Target) -> PendingChange:
    """A registered address; signed in; "Send One-Time Password" to another; its code read,
    not entered."""
    p = portal.profile
    enrolled = in_settings(portal, mail_gap=portal.margin_seconds)
    old = enrolled.account.address or ""
    driver = enrolled.driver
    typed = "change." + old
    since = portal.clock.now()
    sent = driver.register_email(typed)
    expect(sent.ok, "EMAIL_REGISTRATION_CONFIRM", f"a change to the private address {typed!r} was refused")
    code = mailed_code(portal.inbox, typed, p.mail_subject_otp, since, p.email_otp_digits)
    return PendingChange(enrolled, driver, old, str(sent.data.get("address") or typed), code)


def registered_address(driver: Driver) -> str | None:
    """The address the settings show as registered (None: none is)."""
    settings = driver.settings()
    if not settings.ok:
        raise DriverError(f"the settings did not open for a signed-in browser: {settings.error}")
    if "address" not in settings.data:
        raise DriverError(f"the {driver.name} driver does not read the registered address from the settings")
    shown = settings.data["address"]
    return None if shown is None else str(shown)
