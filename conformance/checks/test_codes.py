"""Mailed codes: lifetime, single use, resend, the failure count, and the mail contract.

"Just before" and "just after" a lifetime are ``margin_seconds`` either side of it: the virtual
clock makes that exact, a real clock makes the margin cover the clock offset and round trip.
"""

from __future__ import annotations

import pytest

from ninsho.conformance import realtime
from ninsho.conformance.actions import mailed_code, wrong_mailed_code
from ninsho.conformance.errors import NotApplicable, expect
from ninsho.conformance.interfaces import Driver
from ninsho.conformance.probes.concurrent import SUBMISSIONS, submit_at_once
from ninsho.conformance.probes.enrol import Enrolled, enrol_email
from ninsho.conformance.probes.mail_encoding import encoding_problems
from ninsho.conformance.target import Target
from ninsho.conformance.timing import Span, age, during, judge_lifetime, margin_for


def _login_code(portal: Target, enrolled: Enrolled, driver: Driver | None = None) -> tuple[Driver, str]:
    """Log in and have a second-factor code mailed: the manuals' email login."""
    driver, code, _ = _timed_login_code(portal, enrolled, driver)
    return driver, code


def _timed_login_code(
    portal: Target, enrolled: Enrolled, driver: Driver | None = None
) -> tuple[Driver, str, Span]:
    """:func:`_login_code`, with the span in which the portal issued the code."""
    driver = driver or enrolled.driver
    p, address = portal.profile, enrolled.account.address or ""
    login = driver.login(enrolled.account)
    expect(login.ok and login.stage == "first_factor", "SECOND_FACTOR_REQUIRED", f"login gave {login.stage}")
    requested, issued = during(portal.clock, driver.request_email_code)
    expect(requested.ok, "EMAIL_OTP_TO_REGISTERED_ADDRESS", "no code could be requested")
    code = mailed_code(portal.inbox, address, p.mail_subject_otp, issued.start, p.email_otp_digits)
    return driver, code, issued


def _fresh_session(portal: Target, enrolled: Enrolled) -> Driver:
    """A new login, without asking for a new code: the session of the first login may have
    ended while time passed, and its end must not be mistaken for the code's."""
    driver = portal.browser()
    login = driver.login(enrolled.account)
    expect(login.ok and login.stage == "first_factor", "SECOND_FACTOR_REQUIRED", f"login gave {login.stage}")
    return driver


@pytest.mark.EMAIL_OTP_LIFETIME
@realtime.waits(
    lambda portal: portal.profile.email_otp_lifetime_seconds - portal.margin_seconds,
    what="email code lifetime",
)
def test_email_code_accepted_just_before_lifetime(portal: Target) -> None:
    """A code submitted ``margin`` seconds before its lifetime ends is accepted."""
    lifetime = portal.profile.email_otp_lifetime_seconds
    enrolled = enrol_email(portal)
    _, code, issued = _timed_login_code(portal, enrolled)
    portal.clock.advance(lifetime - margin_for(portal.margin_seconds, issued))
    driver = _fresh_session(portal, enrolled)
    outcome, used = during(portal.clock, lambda: driver.submit_email_code(code))
    portal.measure("accepted_at_age" if outcome.ok else "refused_at_age", str(age(issued, used)))
    judge_lifetime(outcome.ok, age(issued, used), lifetime, "EMAIL_OTP_LIFETIME", expect_accept=True)


@pytest.mark.EMAIL_OTP_LIFETIME
@realtime.waits(
    lambda portal: portal.profile.email_otp_lifetime_seconds + portal.margin_seconds,
    what="email code lifetime",
)
def test_email_code_refused_just_after_lifetime(portal: Target) -> None:
    """A code submitted ``margin`` seconds after its lifetime is refused."""
    lifetime = portal.profile.email_otp_lifetime_seconds
    enrolled = enrol_email(portal)
    _, code, issued = _timed_login_code(portal, enrolled)
    portal.clock.advance(lifetime + margin_for(portal.margin_seconds, issued))
    driver = _fresh_session(portal, enrolled)
    outcome, used = during(portal.clock, lambda: driver.submit_email_code(code))
    portal.measure("accepted_at_age" if outcome.ok else "refused_at_age", str(age(issued, used)))
    judge_lifetime(outcome.ok, age(issued, used), lifetime, "EMAIL_OTP_LIFETIME", expect_accept=False)


@pytest.mark.EMAIL_OTP_SINGLE_USE
def test_email_code_single_use(portal: Target) -> None:
    enrolled = enrol_email(portal)
    driver, code = _login_code(portal, enrolled)
    expect(driver.submit_email_code(code).ok, "EMAIL_OTP_SINGLE_USE", "a fresh code was refused")
    driver.logout()
    driver.login(enrolled.account)
    expect(driver.submit_email_code(code).refused, "EMAIL_OTP_SINGLE_USE", "the same code was accepted twice")


@pytest.mark.EMAIL_OTP_SINGLE_USE
def test_email_code_concurrent_submissions(portal: Target) -> None:
    """One code, N browsers of the same account at the same moment: exactly one gets in."""
    enrolled = enrol_email(portal)
    browsers = [portal.browser() for _ in range(SUBMISSIONS)]
    for browser in browsers:
        browser.login(enrolled.account)
    _, code = _login_code(portal, enrolled, browsers[0].fresh())
    burst = submit_at_once(portal, browsers, lambda b: b.submit_email_code(code))
    expect(burst.exactly_one_succeeded, "EMAIL_OTP_SINGLE_USE", str(burst))


@pytest.mark.RESEND_VOIDS_PREVIOUS
@realtime.waits(lambda portal: portal.margin_seconds, what="gap between the two mails")
def test_resend_voids_previous_code(portal: Target) -> None:
    """After a second code is sent, the first is refused and the second accepted."""
    enrolled = enrol_email(portal)
    driver, first = _login_code(portal, enrolled)
    p, address = portal.profile, enrolled.account.address or ""
    portal.clock.advance(portal.margin_seconds)  # so the mailbox can tell the two mails apart
    since = portal.clock.now()
    expect(driver.request_email_code().ok, "RESEND_VOIDS_PREVIOUS", "the resend was refused")
    second = mailed_code(portal.inbox, address, p.mail_subject_otp, since, p.email_otp_digits)
    if first == second:
        pytest.skip("the resend mailed the same code: nothing to void (1 in 10^digits)")
    expect(driver.submit_email_code(first).refused, "RESEND_VOIDS_PREVIOUS", "the earlier code still worked")
    expect(driver.submit_email_code(second).ok, "RESEND_VOIDS_PREVIOUS", "the newest code was refused")


@pytest.mark.RESEND_KEEPS_FAILURE_COUNT
@realtime.waits(lambda portal: portal.margin_seconds, what="gap between the two mails")
def test_resend_keeps_failure_count(portal: Target) -> None:
    """threshold-1 wrong codes, a resend, one more wrong code: locked, so even the right
    newest code is refused. A resend that resets the count would let it in."""
    threshold = portal.profile.lockout_threshold
    enrolled = enrol_email(portal)
    driver, code = _login_code(portal, enrolled)
    wrong = wrong_mailed_code(code)
    for _ in range(threshold - 1):
        expect(driver.submit_email_code(wrong).refused, "SECOND_FACTOR_REQUIRED", "a wrong code was accepted")
    p, address = portal.profile, enrolled.account.address or ""
    portal.clock.advance(portal.margin_seconds)
    since = portal.clock.now()
    driver.request_email_code()
    newest = mailed_code(portal.inbox, address, p.mail_subject_otp, since, p.email_otp_digits)
    driver.submit_email_code(wrong_mailed_code(newest))
    outcome = driver.submit_email_code(newest)
    portal.measure("after_threshold", outcome.error or "accepted")
    expect(outcome.refused, "RESEND_KEEPS_FAILURE_COUNT", "the failure count was reset by the resend")


@pytest.mark.LOCKOUT_THRESHOLD
def test_lockout_threshold(portal: Target) -> None:
    """threshold-1 failures leave the account usable; the threshold-th locks it."""
    threshold = portal.profile.lockout_threshold
    enrolled = enrol_email(portal)
    driver, code = _login_code(portal, enrolled)
    for _ in range(threshold - 1):
        driver.submit_email_code(wrong_mailed_code(code))
    expect(driver.submit_email_code(code).ok, "LOCKOUT_THRESHOLD", f"locked before {threshold} failures")
    driver.logout()
    driver, code = _login_code(portal, enrolled)
    for _ in range(threshold):
        driver.submit_email_code(wrong_mailed_code(code))
    outcome = driver.submit_email_code(code)
    portal.measure("threshold", threshold)
    expect(outcome.refused, "LOCKOUT_THRESHOLD", f"the right code was accepted after {threshold} failures")


@pytest.mark.LOCKOUT_DURATION
@realtime.waits(
    lambda portal: (
        (portal.profile.lockout_duration_seconds - portal.margin_seconds) + 2 * portal.margin_seconds
    ),
    what="lockout duration",
)
def test_lockout_duration(portal: Target) -> None:
    """Locked just before the duration ends; usable just after."""
    p = portal.profile
    enrolled = enrol_email(portal)
    driver, code = _login_code(portal, enrolled)
    for _ in range(p.lockout_threshold):
        driver.submit_email_code(wrong_mailed_code(code))
    portal.clock.advance(p.lockout_duration_seconds - portal.margin_seconds)
    driver.logout()
    driver, code = _login_code(portal, enrolled)
    expect(driver.submit_email_code(code).refused, "LOCKOUT_DURATION", "the lock lifted before its duration")
    portal.clock.advance(2 * portal.margin_seconds)
    driver.logout()
    driver, code = _login_code(portal, enrolled)
    expect(driver.submit_email_code(code).ok, "LOCKOUT_DURATION", "still locked after the duration")


@pytest.mark.EMAIL_OTP_DIGITS
@pytest.mark.MAIL_SENDER
@pytest.mark.MAIL_SUBJECT_OTP
@pytest.mark.MAIL_BODY_CODE
@pytest.mark.EMAIL_OTP_TO_REGISTERED_ADDRESS
def test_login_mail_contract(portal: Target) -> None:
    """The login mail: to the registered address, from the profile's sender, with its subject,
    and a code of the profile's digits in the body."""
    p = portal.profile
    enrolled = enrol_email(portal)
    address = enrolled.account.address or ""
    enrolled.driver.login(enrolled.account)
    since = portal.clock.now()
    enrolled.driver.request_email_code()
    mail = portal.mail(address, p.mail_subject_otp, since)
    expect(mail.sender.lower() == p.mail_sender.lower(), "MAIL_SENDER", f"sent from {mail.sender}")
    expect(mail.subject == p.mail_subject_otp, "MAIL_SUBJECT_OTP", f"subject {mail.subject!r}")
    code = mail.code(p.email_otp_digits)
    expect(code is not None, "MAIL_BODY_CODE", f"no {p.email_otp_digits}-digit code in the body")
    longer = mail.code(p.email_otp_digits + 1)
    expect(longer is None, "EMAIL_OTP_DIGITS", "the body holds a longer number than the profile's digits")
    expect(
        enrolled.driver.submit_email_code(code or "").ok, "MAIL_BODY_CODE", "the code in the body was refused"
    )


@pytest.mark.MAIL_ENCODING
def test_mail_encoding(portal: Target) -> None:
    """The login mail on the wire: RFC 2047 UTF-8 encoded-words in the subject, a text/plain
    body in UTF-8."""
    p = portal.profile
    enrolled = enrol_email(portal)
    enrolled.driver.login(enrolled.account)
    since = portal.clock.now()
    enrolled.driver.request_email_code()
    mail = portal.mail(enrolled.account.address or "", p.mail_subject_otp, since)
    if not mail.raw:
        raise NotApplicable("the mailbox does not keep a mail as it was sent, so its encoding cannot be seen")
    problems = encoding_problems(mail.raw, p.mail_subject_otp)
    expect(not problems, "MAIL_ENCODING", "; ".join(problems))
