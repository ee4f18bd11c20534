"""Mailed codes: lifetime, single use, resend, the failure count, and the mail contract.

"Just before" and "just after" a lifetime or the lockout's end are a margin either side of it
(timing.margin_for: the target's margin, grown by the round trips of the run), aimed from when
the portal issued the code or set the lock, less the time the actions before the submission took
the first time. The virtual clock makes that exact; a real clock gives each event a span, and a
verdict only where the whole span is on one side (timing.judge_boundary), else INCONCLUSIVE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ninsho.conformance import realtime
from ninsho.conformance.actions import code_in, mailed_code, wrong_code, wrong_mailed_code
from ninsho.conformance.errors import DriverError, Inconclusive, NotApplicable, expect
from ninsho.conformance.interfaces import Driver, Outcome
from ninsho.conformance.probes.concurrent import SUBMISSIONS, submit_at_once
from ninsho.conformance.probes.enrol import (
    Enrolled,
    app_code_now,
    await_unused_step,
    enrol_app,
    enrol_email,
    logs_in_by_mail,
    settle_in_step,
    step_of,
)
from ninsho.conformance.probes.mail_encoding import encoding_problems
from ninsho.conformance.target import Target
from ninsho.conformance.timing import (
    LOCKOUT,
    Span,
    age,
    during,
    judge_boundary,
    judge_lifetime,
    margin_for,
    wait_until,
)


@dataclass(frozen=True)
class Mailed:
    """A login that had a code mailed, timed: when the portal issued the code, how long the
    login took and how long the whole of it took (to aim a later one of each)."""

    driver: Driver
    code: str
    issued: Span
    login: Span
    whole: Span


def _login_code(portal: Target, enrolled: Enrolled, driver: Driver | None = None) -> tuple[Driver, str]:
    """Log in and have a second-factor code mailed: the manuals' email login."""
    mailed = _timed_login_code(portal, enrolled, driver)
    return mailed.driver, mailed.code


def _timed_login_code(portal: Target, enrolled: Enrolled, driver: Driver | None = None) -> Mailed:
    """:func:`_login_code`, with its spans."""
    driver = driver or enrolled.driver
    began = portal.clock.now()
    logged, requested, issued = _login_and_request(portal, enrolled, driver)
    return Mailed(
        driver, _mailed(portal, enrolled, requested, issued), issued, logged, Span(began, portal.clock.now())
    )


def _login_and_request(portal: Target, enrolled: Enrolled, driver: Driver) -> tuple[Span, Outcome, Span]:
    """Log in and ask for a code: the login's span, the answer, and when the portal gave it."""
    login, logged = during(portal.clock, lambda: driver.login(enrolled.account))
    expect(login.ok and login.stage == "first_factor", "SECOND_FACTOR_REQUIRED", f"login gave {login.stage}")
    requested, issued = during(portal.clock, driver.request_email_code)
    return logged, requested, issued


def _mailed(portal: Target, enrolled: Enrolled, requested: Outcome, issued: Span) -> str:
    """The code the request mailed."""
    p, address = portal.profile, enrolled.account.address or ""
    expect(requested.ok, "EMAIL_OTP_TO_REGISTERED_ADDRESS", "no code could be requested")
    return mailed_code(portal.inbox, address, p.mail_subject_otp, issued.start, p.email_otp_digits)


def _unless_it_may_have_expired(portal: Target, issued: Span, used: Span, requirement: str) -> None:
    """A right code was refused where the check did not wait for its lifetime: on a slow portal
    (privacyIDEA beside busy jobs: ten submissions took minutes) it may have expired meanwhile,
    and then its refusal is no evidence of anything else: INCONCLUSIVE, with its age."""
    lifetime = portal.profile.email_otp_lifetime_seconds
    if age(issued, used).end >= lifetime:
        judge_lifetime(False, age(issued, used), lifetime, requirement, expect_accept=True)


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
    mailed = _timed_login_code(portal, enrolled)
    issued = mailed.issued
    margin = margin_for(portal.clock, portal.margin_seconds, issued, mailed.login)
    wait_until(portal.clock, issued.end + lifetime - margin - mailed.login.width)
    driver = _fresh_session(portal, enrolled)
    outcome, used = during(portal.clock, lambda: driver.submit_email_code(mailed.code))
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
    mailed = _timed_login_code(portal, enrolled)
    issued = mailed.issued
    wait_until(portal.clock, issued.end + lifetime + margin_for(portal.clock, portal.margin_seconds, issued))
    driver = _fresh_session(portal, enrolled)
    outcome, used = during(portal.clock, lambda: driver.submit_email_code(mailed.code))
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
    mailed = _timed_login_code(portal, enrolled)
    driver, code = mailed.driver, mailed.code
    for _ in range(threshold - 1):
        driver.submit_email_code(wrong_mailed_code(code))
    outcome, used = during(portal.clock, lambda: driver.submit_email_code(code))
    if outcome.refused:
        _unless_it_may_have_expired(portal, mailed.issued, used, "LOCKOUT_THRESHOLD")
    expect(outcome.ok, "LOCKOUT_THRESHOLD", f"locked before {threshold} failures")
    driver.logout()
    driver, code = _login_code(portal, enrolled)
    for _ in range(threshold):
        driver.submit_email_code(wrong_mailed_code(code))
    outcome = driver.submit_email_code(code)
    portal.measure("threshold", threshold)
    expect(outcome.refused, "LOCKOUT_THRESHOLD", f"the right code was accepted after {threshold} failures")


@pytest.mark.LOCKOUT_THRESHOLD
def test_lockout_threshold_on_the_apps_codes(portal: Target) -> None:
    """The same count for the app's codes, a refused one being a failed attempt too (§12.5):
    threshold-1 wrong codes leave the right one usable; the threshold-th locks it. Each right
    code is of a step no code used, awaited before the wrong ones so that it follows them at once
    (a wait between could outlast the lock), with as much of the step left as the login took for
    each submission: a code sent across a step's end tells nothing. For a portal whose only
    second factor is the app (capabilities.email_login = false), which the checks of the mailed
    codes' count cannot judge. Elsewhere they do, and this one would only add a chance of
    INCONCLUSIVE: a slow portal's threshold of TOTP checks outlasts a step (privacyIDEA's, 2.5
    to 5 s each, ten of them)."""
    if logs_in_by_mail(portal.new_driver()):
        raise NotApplicable(
            "the portal takes a mailed code after the password: the checks of its failure count judge"
            " LOCKOUT_THRESHOLD (this one is for a portal whose only second factor is the app)"
        )
    threshold = portal.profile.lockout_threshold
    enrolled = enrol_app(portal)
    assert enrolled.totp is not None
    driver = enrolled.driver
    for wrong, locked in ((threshold - 1, False), (threshold, True)):
        _, logged = during(portal.clock, lambda: driver.login(enrolled.account))
        await_unused_step(portal, enrolled)
        settle_in_step(portal, needed_seconds=2 * portal.margin_seconds + (wrong + 1) * logged.width)
        guess = wrong_code(enrolled.totp, step_of(portal))
        for _ in range(wrong):
            driver.submit_app_code(guess)
        outcome = driver.submit_app_code(app_code_now(portal, enrolled))
        if outcome.refused and step_of(portal) != enrolled.used_step:
            raise Inconclusive(
                f"the app's right code was refused after {wrong} failures, but its step ended while it"
                " was on its way (a portal without a past step in its window refuses it for that): the"
                " machine or the network was too slow to tell",
                "LOCKOUT_THRESHOLD",
            )
        if locked:
            portal.measure("threshold", threshold)
            expect(
                outcome.refused,
                "LOCKOUT_THRESHOLD",
                f"the app's right code was accepted after {wrong} failures",
            )
        else:
            expect(
                outcome.ok, "LOCKOUT_THRESHOLD", f"the app's right code was refused after {wrong} failures"
            )
            driver.logout()


@pytest.mark.LOCKOUT_DURATION
@realtime.waits(
    lambda portal: (
        (portal.profile.lockout_duration_seconds - portal.margin_seconds) + 2 * portal.margin_seconds
    ),
    what="lockout duration",
)
def test_lockout_duration(portal: Target) -> None:
    """Still locked just before the duration ends; usable just after, both counted from the
    submission that set the lock. Each try needs a new login and code first, which take as long
    as they took at the start: "just before" is aimed that much earlier."""
    p, clock = portal.profile, portal.clock
    duration = p.lockout_duration_seconds
    enrolled = enrol_email(portal)
    first = _timed_login_code(portal, enrolled)
    driver, wrong = first.driver, wrong_mailed_code(first.code)
    for _ in range(p.lockout_threshold - 1):
        driver.submit_email_code(wrong)
    _, locked = during(clock, lambda: driver.submit_email_code(wrong))
    margin = margin_for(clock, portal.margin_seconds, locked, first.issued)
    wait_until(clock, locked.start + duration - margin - first.whole.width)
    held, tried = _try_the_right_code(portal, enrolled)
    judge_boundary(held, age(locked, tried), duration, "LOCKOUT_DURATION", LOCKOUT, expect_held=True)
    wait_until(clock, locked.end + duration + margin)
    held, tried = _try_the_right_code(portal, enrolled)
    judge_boundary(held, age(locked, tried), duration, "LOCKOUT_DURATION", LOCKOUT, expect_held=False)


def _try_the_right_code(portal: Target, enrolled: Enrolled) -> tuple[bool, Span]:
    """Log out, log in, have a code mailed and submit it: whether the lock held, and when the
    portal said so. While locked a portal answers the request itself "locked" and mails nothing
    (protocol.md §12.5; privacyIDEA: "Failcounter exceeded"), which is the lock's answer too; one
    that still mails, departing from MAIL_RATE_LIMIT alone, has the code refused instead."""
    driver = enrolled.driver
    driver.logout()
    _, requested, asked = _login_and_request(portal, enrolled, driver)
    if requested.error == "account_locked":
        return True, asked
    code = _mailed(portal, enrolled, requested, asked)
    outcome, tried = during(portal.clock, lambda: driver.submit_email_code(code))
    return outcome.refused, tried


@pytest.mark.EMAIL_OTP_DIGITS
@pytest.mark.MAIL_SENDER
@pytest.mark.MAIL_SUBJECT_OTP
@pytest.mark.MAIL_BODY_CODE
@pytest.mark.EMAIL_OTP_TO_REGISTERED_ADDRESS
def test_login_mail_contract(portal: Target) -> None:
    """The login mail: to the registered address, from the profile's sender, with its subject,
    and a code of the profile's digits in the body."""
    enrolled = enrol_email(portal)
    address = enrolled.account.address or ""
    enrolled.driver.login(enrolled.account)
    since = portal.clock.now()
    enrolled.driver.request_email_code()
    _enter_the_mailed_code(portal, address, since, enrolled.driver.submit_email_code)


@pytest.mark.EMAIL_OTP_DIGITS
@pytest.mark.MAIL_SENDER
@pytest.mark.MAIL_SUBJECT_OTP
@pytest.mark.MAIL_BODY_CODE
def test_new_address_mail_contract(portal: Target) -> None:
    """The new address's mail ("Send One-Time Password" on the Mail tab, email-change.en.txt ⑥):
    from the profile's sender, with the one-time password's subject, and a code of the profile's
    digits in the body, which "Confirm" takes. Every portal sends it, one that mails no code after
    the password too (the html driver's capabilities.email_login = false)."""
    account, driver = portal.account(), portal.browser()
    login = driver.login(account)
    if not login.ok:
        raise DriverError(f"set-up failed: the first login was refused: {login.error}")
    address, since = account.address or "", portal.clock.now()
    sent = driver.register_email(address)
    expect(
        sent.ok, "EMAIL_REGISTRATION_CONFIRM", f"the private address {address!r} was refused: {sent.error}"
    )
    _enter_the_mailed_code(portal, address, since, driver.confirm_email)


def _enter_the_mailed_code(
    portal: Target, address: str, since: float, enter: Callable[[str], Outcome]
) -> None:
    """Read the one-time password's mail to ``address`` (its sender, subject, digits and body each
    judged as it is read: mail_contract.judge_mail, a FAIL of that requirement alone, and the
    check goes on), and enter its code, which must be taken."""
    p = portal.profile
    mail = portal.mail(address, p.mail_subject_otp, since)
    code = code_in(mail, p.email_otp_digits)
    expect(enter(code).ok, "MAIL_BODY_CODE", "the code in the body was refused")


@pytest.mark.MAIL_ENCODING
def test_mail_encoding(portal: Target) -> None:
    """The login mail on the wire: RFC 2047 UTF-8 encoded-words in the subject, a text/plain
    body in UTF-8. A portal that mails no code after the password (the html driver's
    capabilities.email_login = false) is judged by the mail it does send, the new address's."""
    p = portal.profile
    driver = portal.browser()
    if logs_in_by_mail(driver):
        enrolled = enrol_email(portal)
        enrolled.driver.login(enrolled.account)
        since = portal.clock.now()
        enrolled.driver.request_email_code()
        address = enrolled.account.address or ""
    else:
        account = portal.account()
        driver.login(account)
        since, address = portal.clock.now(), account.address or ""
        driver.register_email(address)
    mail = portal.mail(address, p.mail_subject_otp, since)
    if not mail.raw:
        raise NotApplicable("the mailbox does not keep a mail as it was sent, so its encoding cannot be seen")
    problems = encoding_problems(mail.raw, mail.subject)  # the wording is MAIL_SUBJECT_OTP's
    expect(not problems, "MAIL_ENCODING", "; ".join(problems))
