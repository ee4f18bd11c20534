"""The failure count is the account's, not the session's: spread over fresh logins and over
concurrent sessions, ``lockout.threshold`` wrong codes still lock (§12.5) [LOCKOUT_THRESHOLD].

The lockout probe of ``checks/test_codes.py`` makes every attempt in one session, so a portal
that resets the count at each password login, or counts per session, passes it; a thief who has
the password would then interleave logins and guess without end (issue #18 measured one).
Each probe returns the portal's answer to the *right* code once the threshold is reached, for
the check to judge; the account is left locked, which the pool waits out (``pool.reset``).
"""

from __future__ import annotations

from ninsho.conformance.actions import mailed_code, wrong_mailed_code
from ninsho.conformance.errors import NotApplicable, expect
from ninsho.conformance.interfaces import Driver, Outcome
from ninsho.conformance.probes.enrol import Enrolled
from ninsho.conformance.target import Target


def failures_over_fresh_logins(portal: Target, enrolled: Enrolled) -> Outcome:
    """The first browser asks for a code and waits; in a second browser each wrong code comes
    after a password login of its own, each ending the one before, up to the threshold. Then the
    right code in the first browser, whose session asked for it (so however the portal binds
    codes, §12.3, it is the right one there), and no resend anywhere: that is another rule."""
    threshold = _spreadable(portal)
    waiting = _logged_in(enrolled.driver, enrolled)
    code = _code(portal, enrolled, waiting)
    guesser = portal.browser()
    for _ in range(threshold):
        _logged_in(guesser, enrolled).submit_email_code(wrong_mailed_code(code))
        guesser.logout()
    portal.measure("failures", f"{threshold}, each after a password login of its own")
    return waiting.submit_email_code(code)


def failures_over_sessions(portal: Target, enrolled: Enrolled) -> Outcome:
    """Two browsers of one account, both at the second factor, taking turns with wrong codes up
    to the threshold; then the right code in the first. Neither session alone reaches it."""
    threshold = _spreadable(portal)
    browsers = [_logged_in(portal.browser(), enrolled), _logged_in(portal.browser(), enrolled)]
    code = _code(portal, enrolled, browsers[0])
    for attempt in range(threshold):
        browsers[attempt % 2].submit_email_code(wrong_mailed_code(code))
    portal.measure("failures", f"{threshold}, taking turns in 2 sessions")
    return browsers[0].submit_email_code(code)


def _spreadable(portal: Target) -> int:
    threshold = portal.profile.lockout_threshold
    if threshold < 2:
        raise NotApplicable(
            f"lockout.threshold is {threshold}: one attempt locks, there is nothing to spread"
        )
    return threshold


def _logged_in(driver: Driver, enrolled: Enrolled) -> Driver:
    login = driver.login(enrolled.account)
    expect(login.ok and login.stage == "first_factor", "SECOND_FACTOR_REQUIRED", f"login gave {login.stage}")
    return driver


def _code(portal: Target, enrolled: Enrolled, driver: Driver) -> str:
    """A code mailed to this session, apart in time from the mails before it."""
    p, address = portal.profile, enrolled.account.address or ""
    portal.clock.advance(portal.margin_seconds)
    since = portal.clock.now()
    requested = driver.request_email_code()
    expect(requested.ok, "EMAIL_OTP_TO_REGISTERED_ADDRESS", f"no code could be requested: {requested.error}")
    return mailed_code(portal.inbox, address, p.mail_subject_otp, since, p.email_otp_digits)
