"""A used code sent again is refused and counts no failure [REPLAY_NOT_COUNTED] (§12.5).

Each check uses a code once, sends it again ``lockout.threshold`` times, each time from a new
password login (a double click, another tab, someone who saw the code), and then expects the
account to let its owner in with a fresh code. It does not judge the replays' answers: refusing
them is EMAIL_OTP_SINGLE_USE's and TOTP_REPLAY's, judged by their own checks; a portal that
accepts them counts no failure either, and is caught there.
"""

from __future__ import annotations

import pytest

from ninsho.conformance.actions import mailed_code, second_factor_by_mail
from ninsho.conformance.errors import DriverError, expect
from ninsho.conformance.probes.enrol import (
    Enrolled,
    code_for_step,
    enrol_app,
    enrol_email,
    settle_in_step,
    step_of,
    wait_for_step,
)
from ninsho.conformance.target import Target


def _replayed(portal: Target, enrolled: Enrolled, submit: str, code: str) -> None:
    """``code`` sent again ``lockout.threshold`` times, each from a password login of its own."""
    for _ in range(portal.profile.lockout_threshold):
        browser = portal.browser()
        login = browser.login(enrolled.account)
        if not login.ok:
            raise DriverError(f"set-up failed: a password login between the replays: {login}")
        getattr(browser, submit)(code)


@pytest.mark.REPLAY_NOT_COUNTED
def test_a_used_email_code_sent_again_counts_no_failure(portal: Target) -> None:
    enrolled = enrol_email(portal)
    p, address = portal.profile, enrolled.account.address or ""
    enrolled.driver.login(enrolled.account)
    code, used = second_factor_by_mail(enrolled.driver, portal.inbox, portal.clock, p, address)
    if not used.ok:
        raise DriverError(f"set-up failed: a fresh login code was refused: {used}")
    _replayed(portal, enrolled, "submit_email_code", code)
    owner = portal.browser()
    owner.login(enrolled.account)
    since = portal.clock.now()
    answer = owner.request_email_code()  # a locked portal may refuse to mail at all (§12.5)
    if answer.ok:
        fresh = mailed_code(portal.inbox, address, p.mail_subject_otp, since, p.email_otp_digits)
        answer = owner.submit_email_code(fresh)
    portal.measure("after_replays", answer.error or "accepted")
    expect(
        answer.ok,
        "REPLAY_NOT_COUNTED",
        f"after {p.lockout_threshold} replays of a used code the owner's fresh code was refused ({answer.error})",
    )


@pytest.mark.REPLAY_NOT_COUNTED
def test_a_used_totp_step_sent_again_counts_no_failure(portal: Target) -> None:
    enrolled = enrol_app(portal)
    assert enrolled.totp is not None
    wait_for_step(portal, enrolled.registered_step + 1)
    settle_in_step(portal, needed_seconds=4 * portal.margin_seconds)
    step = step_of(portal)
    enrolled.driver.login(enrolled.account)
    used = enrolled.driver.submit_app_code(code_for_step(enrolled.totp, step))
    if not used.ok:
        raise DriverError(f"set-up failed: a current app code was refused: {used}")
    _replayed(portal, enrolled, "submit_app_code", code_for_step(enrolled.totp, step))
    wait_for_step(portal, step + 1)  # the owner's next code: a step never used
    settle_in_step(portal, needed_seconds=4 * portal.margin_seconds)
    owner = portal.browser()
    owner.login(enrolled.account)
    answer = owner.submit_app_code(code_for_step(enrolled.totp, step_of(portal)))
    portal.measure("after_replays", answer.error or "accepted")
    expect(
        answer.ok,
        "REPLAY_NOT_COUNTED",
        f"after {portal.profile.lockout_threshold} replays of a used step the owner's next code was refused ({answer.error})",
    )
