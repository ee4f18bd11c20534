"""Codes across logins, sessions and purposes: what one session at a time cannot show.

- the failure count belongs to the account: fresh password logins and concurrent sessions do
  not reset or split it (§12.5) [LOCKOUT_THRESHOLD];
- each kind of code is refused wherever another kind is expected (§12.3) [CODE_BOUND_TO_PURPOSE];
- a signed-in change of the address does nothing before its code is confirmed (§7)
  [EMAIL_REGISTRATION_CONFIRM] [EMAIL_OTP_TO_REGISTERED_ADDRESS].
"""

from __future__ import annotations

import pytest

from ninsho.conformance import realtime
from ninsho.conformance.actions import mailed_code
from ninsho.conformance.errors import expect
from ninsho.conformance.probes.address_change import pending_change, registered_address
from ninsho.conformance.probes.enrol import enrol_email
from ninsho.conformance.probes.failure_count import failures_over_fresh_logins, failures_over_sessions
from ninsho.conformance.probes.purposes import CELLS, Kind, offer_in_place
from ninsho.conformance.target import Target


# --- the failure count -----------------------------------------------------------------------
@pytest.mark.LOCKOUT_THRESHOLD
@realtime.waits(lambda portal: portal.margin_seconds, what="gap between the mails to one address")
def test_failure_count_survives_fresh_logins(portal: Target) -> None:
    """threshold wrong codes, each after a password login of its own: locked, so the right code
    waiting in another browser is refused. A login that resets the count lets it in."""
    outcome = failures_over_fresh_logins(portal, enrol_email(portal))
    portal.measure("after_threshold", outcome.error or "accepted")
    expect(
        outcome.refused, "LOCKOUT_THRESHOLD", "the right code was accepted: a password login reset the count"
    )


@pytest.mark.LOCKOUT_THRESHOLD
@realtime.waits(lambda portal: portal.margin_seconds, what="gap between the mails to one address")
def test_failure_count_shared_by_concurrent_sessions(portal: Target) -> None:
    """threshold wrong codes, taking turns in two sessions of one account: locked, though
    neither session reached the threshold alone."""
    outcome = failures_over_sessions(portal, enrol_email(portal))
    portal.measure("after_threshold", outcome.error or "accepted")
    expect(
        outcome.refused, "LOCKOUT_THRESHOLD", "the right code was accepted: each session kept its own count"
    )


# --- the cross-purpose matrix ------------------------------------------------------------------
@pytest.mark.CODE_BOUND_TO_PURPOSE
@pytest.mark.parametrize(("kind", "place"), CELLS, ids=[f"{k}-code-at-{p}" for k, p in CELLS])
def test_code_refused_where_another_kind_is_expected(portal: Target, kind: Kind, place: Kind) -> None:
    """A live, unused code of one kind, typed where another kind is expected, is refused."""
    offered = offer_in_place(portal, kind, place)
    portal.measure("answer", str(offered))
    expect(offered.answer.refused, "CODE_BOUND_TO_PURPOSE", str(offered))


# --- a signed-in address change before its confirmation ----------------------------------------
@pytest.mark.EMAIL_REGISTRATION_CONFIRM
@realtime.waits(lambda portal: portal.margin_seconds, what="gap between the mails to one address")
def test_address_change_waits_for_its_confirmation(portal: Target) -> None:
    """The settings show the old address after "Send One-Time Password" to a new one, and the
    new one only once its code is confirmed."""
    change = pending_change(portal)
    before = registered_address(change.driver)
    portal.measure("registered_before_confirm", before)
    expect(
        before == change.old,
        "EMAIL_REGISTRATION_CONFIRM",
        f"before its code was entered the settings show {before!r}, not the registered {change.old!r}",
    )
    confirmed = change.driver.confirm_email(change.code)
    expect(
        confirmed.ok, "EMAIL_REGISTRATION_CONFIRM", f"the new address's code was refused: {confirmed.error}"
    )
    after = registered_address(change.driver)
    expect(
        after == change.new,
        "EMAIL_REGISTRATION_CONFIRM",
        f"after its code was entered the settings show {after!r}, not {change.new!r}",
    )


@pytest.mark.EMAIL_OTP_TO_REGISTERED_ADDRESS
@realtime.waits(lambda portal: 2 * portal.margin_seconds, what="gaps between the mails to one address")
def test_login_code_goes_to_the_old_address_during_a_change(portal: Target) -> None:
    """With a change sent but not confirmed, the next login's code goes to the registered
    address, not to the one being registered, and it passes the second factor."""
    p = portal.profile
    change = pending_change(portal)
    change.driver.logout()
    driver = portal.browser()
    driver.login(change.enrolled.account)
    portal.clock.advance(portal.margin_seconds)  # apart from the registration code's mail
    since = portal.clock.now()
    expect(driver.request_email_code().ok, "EMAIL_OTP_TO_REGISTERED_ADDRESS", "no login code was mailed")
    expect(
        portal.no_mail(change.new, p.mail_subject_otp, since),
        "EMAIL_OTP_TO_REGISTERED_ADDRESS",
        f"the login code went to {change.new}, whose registration was never confirmed",
    )
    code = mailed_code(portal.inbox, change.old, p.mail_subject_otp, since, p.email_otp_digits)
    passed = driver.submit_email_code(code)
    expect(passed.ok, "EMAIL_OTP_TO_REGISTERED_ADDRESS", f"the code mailed to {change.old} was refused")
