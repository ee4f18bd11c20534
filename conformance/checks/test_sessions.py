"""Sessions, the offered second factors, and how bad input is answered.

A session's end is aimed and judged like a code's lifetime (conformance/checks/test_codes.py):
from the request that started or last refreshed the session, a margin either side
(timing.margin_for), and a verdict only where the whole span of possible ages is on one side of
the limit (timing.judge_boundary), else INCONCLUSIVE.
"""

from __future__ import annotations

import pytest

from ninsho.conformance import realtime
from ninsho.conformance.actions import mailed_code
from ninsho.conformance.errors import NotApplicable, expect
from ninsho.conformance.probes.enrol import enrol_app, enrol_email, reset_by_mail, second_factor_by_mail
from ninsho.conformance.target import Target
from ninsho.conformance.timing import FIRST_FACTOR, IDLE, age, during, judge_boundary, margin_for, wait_until


@pytest.mark.SECOND_FACTOR_METHODS
def test_offered_second_factors_follow_registrations(portal: Target) -> None:
    """Address only: email is offered, not the app. Address and app: both."""
    email_only = enrol_email(portal)
    login = email_only.driver.login(email_only.account)
    methods = login.data.get("methods")
    if methods is None:
        raise NotApplicable("the driver cannot see which second factors the portal offers")
    portal.measure("offered_email_only", list(methods))
    expect(list(methods) == ["email"], "SECOND_FACTOR_METHODS", f"with an address only: {methods}")
    both = enrol_app(portal)
    methods = both.driver.login(both.account).data.get("methods") or []
    portal.measure("offered_both", list(methods))
    expect(sorted(methods) == ["app", "email"], "SECOND_FACTOR_METHODS", f"with address and app: {methods}")


@pytest.mark.SESSION_EXPIRY
@realtime.waits(
    lambda portal: portal.profile.session_first_factor_seconds + portal.margin_seconds,
    what="first-factor session lifetime",
)
def test_first_factor_session_expires(portal: Target) -> None:
    """A session that passed only the password ends after session.first_factor_seconds."""
    limit, clock = portal.profile.session_first_factor_seconds, portal.clock
    enrolled = enrol_email(portal)
    driver = enrolled.driver
    _, logged = during(clock, lambda: driver.login(enrolled.account))
    wait_until(clock, logged.end + limit + margin_for(clock, portal.margin_seconds, logged))
    outcome, tried = during(clock, driver.request_email_code)
    judge_boundary(
        not outcome.refused, age(logged, tried), limit, "SESSION_EXPIRY", FIRST_FACTOR, expect_held=False
    )


@pytest.mark.SESSION_EXPIRY
@realtime.waits(
    lambda portal: (
        (portal.profile.session_idle_seconds - portal.margin_seconds)
        + (portal.profile.session_idle_seconds + portal.margin_seconds)
    ),
    what="idle session lifetime",
)
def test_idle_session_expires(portal: Target) -> None:
    """An authenticated session ends after session.idle_seconds without a request."""
    limit, clock = portal.profile.session_idle_seconds, portal.clock
    enrolled = enrol_email(portal)
    driver = enrolled.driver
    driver.login(enrolled.account)
    second_factor_by_mail(portal, enrolled, driver)
    opened, last = during(clock, driver.settings)  # the last request: the idle time counts from it
    expect(opened.ok, "SESSION_EXPIRY", "the session ended right after the second factor")
    margin = margin_for(clock, portal.margin_seconds, last)
    wait_until(clock, last.start + limit - margin)
    still, seen = during(clock, driver.settings)
    judge_boundary(still.ok, age(last, seen), limit, "SESSION_EXPIRY", IDLE, expect_held=True)
    wait_until(clock, seen.end + limit + margin)
    ended, late = during(clock, driver.settings)
    judge_boundary(not ended.refused, age(seen, late), limit, "SESSION_EXPIRY", IDLE, expect_held=False)


@pytest.mark.TRUST_BROWSER_REVOKED_BY_RESET
def test_reset_revokes_trusted_browsers(portal: Target) -> None:
    p = portal.profile
    enrolled = enrol_email(portal)
    trusted = portal.browser()
    trusted.login(enrolled.account)
    second_factor_by_mail(portal, enrolled, trusted, trust=True)
    trusted.logout()
    reset_by_mail(portal, enrolled)
    # Register an address again, so that a login has a second factor to skip or to ask for.
    since = portal.clock.now()
    address = "again." + (enrolled.account.address or "")
    enrolled.driver.register_email(address)
    enrolled.driver.confirm_email(
        mailed_code(portal.inbox, address, p.mail_subject_otp, since, p.email_otp_digits)
    )
    login = trusted.login(enrolled.account)
    expect(login.stage == "first_factor", "TRUST_BROWSER_REVOKED_BY_RESET", f"after a reset: {login.stage}")


@pytest.mark.INPUT_ERRORS_PRECISE
@pytest.mark.parametrize(
    "bad_code", ["", "12ab5678", "1" * 65, "１２３４５６７８９", "12345678\r\nX: y", "' OR 1=1 --"]
)
def test_malformed_code_is_refused_precisely(portal: Target, bad_code: str) -> None:
    """A malformed code is refused naming the field, and does not count towards the lockout."""
    enrolled = enrol_email(portal)
    driver = enrolled.driver
    driver.login(enrolled.account)
    threshold = portal.profile.lockout_threshold
    outcomes = [driver.submit_email_code(bad_code) for _ in range(threshold)]
    expect(all(o.refused for o in outcomes), "INPUT_ERRORS_PRECISE", f"{bad_code!r} was accepted")
    field = outcomes[0].data.get("field")
    portal.measure("answer", f"{outcomes[0].error} field={field} status={outcomes[0].data.get('status')}")
    expect(field == "code", "INPUT_ERRORS_PRECISE", f"the refusal names the field {field!r}, not 'code'")
    second_factor_by_mail(portal, enrolled, driver)  # not locked: malformed input is no guess


@pytest.mark.TEST_CLOCK_DISABLED_BY_DEFAULT
def test_the_test_clock_is_off_unless_the_run_uses_it(portal: Target) -> None:
    """A portal not started with the test clock answers its operations with 404: as far as the
    outside can tell, the extension is off by default (protocol.md §17)."""
    if portal.clock.kind == "test-clock":
        raise NotApplicable("this run uses the portal's test clock, which its operator enabled for the run")
    if portal.test_clock_answers is None:
        raise NotApplicable(
            "in process there is no HTTP extension to look for (tests/web check the reference's)"
        )
    answered = portal.test_clock_answers()
    portal.measure("test_clock", "answers" if answered else "404")
    expect(
        not answered,
        "TEST_CLOCK_DISABLED_BY_DEFAULT",
        "the test clock answers, though this run does not use it",
    )
