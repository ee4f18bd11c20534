"""Sessions, the offered second factors, and how bad input is answered.

A session's end is aimed and judged like a code's lifetime (conformance/checks/test_codes.py):
from the request that started or last refreshed the session, a margin either side
(timing.margin_for), and a verdict only where the whole span of possible ages is on one side of
the limit (timing.judge_boundary), else INCONCLUSIVE.
"""

from __future__ import annotations

import pytest

from ninsho.conformance import realtime
from ninsho.conformance.actions import let_in_message, let_in_on_password, mailed_code, register_address
from ninsho.conformance.errors import (
    DriverError,
    Inconclusive,
    NotApplicable,
    NotSupported,
    RequirementFailed,
    expect,
)
from ninsho.conformance.interfaces import Driver, Outcome, SessionCopier
from ninsho.conformance.probes.enrol import (
    Enrolled,
    app_code_now,
    await_unused_step,
    enrol_app,
    enrol_email,
    enrol_second_factor,
    pass_second_factor,
    reset_by_mail,
    second_factor_by_mail,
    signed_in,
)
from ninsho.conformance.target import Target
from ninsho.conformance.timing import (
    ABSOLUTE,
    FIRST_FACTOR,
    IDLE,
    Span,
    age,
    during,
    judge_boundary,
    margin_for,
    wait_until,
)


@pytest.mark.SECOND_FACTOR_METHODS
def test_offered_second_factors_follow_registrations(portal: Target) -> None:
    """Address only: email is offered, not the app. Address and app: both."""
    email_only = enrol_email(portal)
    login = email_only.driver.login(email_only.account)
    if let_in_on_password(login):
        raise RequirementFailed("SECOND_FACTOR_REQUIRED", let_in_message(login))
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
    enrolled = enrol_second_factor(portal)
    driver = enrolled.driver
    _, logged = during(clock, lambda: driver.login(enrolled.account))
    wait_until(clock, logged.end + limit + margin_for(clock, portal.margin_seconds, logged))
    outcome, tried = _go_on_to_the_second_factor(portal, enrolled, driver)
    judge_boundary(
        not outcome.refused, age(logged, tried), limit, "SESSION_EXPIRY", FIRST_FACTOR, expect_held=False
    )


def _go_on_to_the_second_factor(portal: Target, enrolled: Enrolled, driver: Driver) -> tuple[Outcome, Span]:
    """The next step of a session that gave the password, and when the portal took it: "Send
    One-Time Password" for the mailed code (a live session mails one), or the app's code, of a
    step no code used, which only a live session accepts."""
    if enrolled.totp is None:
        return during(portal.clock, driver.request_email_code)
    await_unused_step(portal, enrolled)
    code = app_code_now(portal, enrolled)
    return during(portal.clock, lambda: driver.submit_app_code(code))


@pytest.mark.SESSION_EXPIRY
@realtime.waits(
    lambda portal: portal.profile.session_idle_seconds + portal.margin_seconds,
    what="idle session lifetime",
)
def test_idle_session_expires(portal: Target) -> None:
    """An authenticated session ends after session.idle_seconds without a request.

    Two sessions, left idle together: one is asked just before the limit, when it must still be
    open, the other just after, when it must have ended. The question to the first is itself a
    request that restarts its idle time, so one session would need the limit twice over (120 s
    of fast-test's real time, the longest chain of a whole run); two need it once. Each is judged
    from its own last request."""
    limit, clock = portal.profile.session_idle_seconds, portal.clock
    kept, left = signed_in(portal).driver, signed_in(portal).driver
    opened, kept_last = during(clock, kept.settings)  # the last request: the idle time counts from it
    expect(opened.ok, "SESSION_EXPIRY", "the session ended right after the second factor")
    opened, left_last = during(clock, left.settings)
    expect(opened.ok, "SESSION_EXPIRY", "the session ended right after the second factor")
    margin = margin_for(clock, portal.margin_seconds, kept_last, left_last)
    wait_until(clock, kept_last.start + limit - margin)
    still, seen = during(clock, kept.settings)
    judge_boundary(still.ok, age(kept_last, seen), limit, "SESSION_EXPIRY", IDLE, expect_held=True)
    wait_until(clock, left_last.end + limit + margin)
    ended, late = during(clock, left.settings)
    judge_boundary(not ended.refused, age(left_last, late), limit, "SESSION_EXPIRY", IDLE, expect_held=False)


@pytest.mark.SESSION_ABSOLUTE_LIFETIME
@realtime.waits(
    lambda portal: portal.profile.session_absolute_seconds + portal.margin_seconds,
    what="absolute session lifetime",
)
def test_a_busy_session_ends_at_its_absolute_lifetime(portal: Target) -> None:
    """A busy session ends session.absolute_seconds after its login.

    However often it is used: a request every 29 minutes once kept one open for 48 hours. The
    check keeps a signed-in session busy, a request before each idle time could end it, and asks
    just before the lifetime, when it must still be open, and just after, when it must have
    ended. The lifetime is counted from the login's start for the first and from the second
    factor's end for the second, so a portal may count from either; every request is judged only
    where all its possible ages are on one side of the limit (timing.judge_boundary). On the
    test clock the waits cost nothing; in real time they are the profile's, so a real-time run
    takes fast-test's 90 s rather than iimc's 12 hours."""
    limit, clock = portal.profile.session_absolute_seconds, portal.clock
    enrolled = enrol_second_factor(portal)
    driver = enrolled.driver
    await_unused_step(portal, enrolled)  # an app's code: its wait before the session begins
    _, logged = during(clock, lambda: driver.login(enrolled.account))
    _, passed = during(clock, lambda: pass_second_factor(portal, enrolled, driver), one_request=False)
    opened = Span(logged.start, passed.end)  # when the session began, as far as the harness knows
    busy = _Busy(portal, driver, opened)
    busy.ask(*during(clock, driver.settings), expect_held=True)
    busy.until(opened.start + limit - margin_for(clock, portal.margin_seconds, busy.last))
    busy.ask(*during(clock, driver.settings), expect_held=True)
    busy.until(opened.end + limit + margin_for(clock, portal.margin_seconds, busy.last))
    busy.ask(*during(clock, driver.settings), expect_held=False)


class _Busy:
    """A session kept in use: a request (the settings) whenever the next one would come later
    than session.idle_seconds after the last, each judged against the absolute lifetime."""

    def __init__(self, portal: Target, driver: Driver, opened: Span) -> None:
        self.portal, self.driver, self.opened = portal, driver, opened
        self.last = opened
        self.requests = 0

    def ask(self, outcome: Outcome, seen: Span, *, expect_held: bool) -> None:
        """Judge one request: a refusal speaks for the absolute lifetime only where the idle time
        cannot have ended the session, i.e. where the portal surely saw it less than
        session.idle_seconds after the request before (a busy machine can delay it past)."""
        self.requests += 1
        gap = seen.start - self.last.end
        idle = self.portal.profile.session_idle_seconds
        since_last = age(self.last, seen)
        if outcome.refused and since_last.end >= idle:
            raise Inconclusive(
                f"the session ended, but the portal may have seen request {self.requests} {since_last.end:.1f} s"
                f" after the one before, past its {idle:g} s session.idle_seconds: the machine or the network"
                " was too slow to tell which limit ended it",
                "SESSION_ABSOLUTE_LIFETIME",
            )
        self.portal.measure("requests", self.requests)
        if not expect_held:
            self.portal.measure(
                "ended_at_age" if outcome.refused else "open_at_age", str(age(self.opened, seen))
            )
        detail = f"request {self.requests}, {gap:.0f} s after the one before"
        limit = self.portal.profile.session_absolute_seconds
        judge_boundary(
            outcome.ok,
            age(self.opened, seen),
            limit,
            "SESSION_ABSOLUTE_LIFETIME",
            ABSOLUTE,
            expect_held=expect_held,
            detail=detail,
        )
        self.last = seen

    def until(self, at: float) -> None:
        """Keep the session busy up to ``at``, and let the clock reach it: the request there
        comes within session.idle_seconds of the one before, margins included."""
        clock, idle = self.portal.clock, self.portal.profile.session_idle_seconds
        while True:
            margin = margin_for(clock, self.portal.margin_seconds, self.last)
            if at + margin <= self.last.start + idle:
                break
            if idle - margin <= margin:
                raise Inconclusive(
                    f"session.idle_seconds ({idle:g} s) is within the harness's margin ({margin:.1f} s):"
                    " it cannot keep a session busy and be sure the idle time did not end it",
                    "SESSION_ABSOLUTE_LIFETIME",
                )
            wait_until(clock, self.last.start + idle - margin)
            self.ask(*during(clock, self.driver.settings), expect_held=True)
        wait_until(clock, at)


@pytest.mark.SESSION_TOKEN_RENEWED
def test_the_second_factor_renews_the_session_token(portal: Target) -> None:
    """A copy of the session taken after the password is dead once the second factor passes.

    A copy of the cookie (or API token) signs nobody in: the session goes on under a new token and
    the old one is refused like an ended session. The copy needs a driver that can copy a
    session (interfaces.SessionCopier); without one the check is NOT_APPLICABLE."""
    enrolled = enrol_second_factor(portal)
    owner = enrolled.driver
    login = owner.login(enrolled.account)
    if not login.ok:
        raise DriverError(f"set-up failed: the login was refused: {login.error}")
    if login.stage != "first_factor":
        raise NotApplicable(f"the password alone led to {login.stage}: no second factor renews the token")
    if not isinstance(owner, SessionCopier):
        raise NotSupported(
            f"the {owner.name} driver cannot copy a session's token (interfaces.SessionCopier)"
        )
    copy = owner.copy_session()
    pass_second_factor(portal, enrolled, owner)
    mine, theirs = owner.settings(), copy.settings()
    portal.measure("copy_taken_after_the_password", "signed in" if theirs.ok else f"refused ({theirs.error})")
    expect(
        mine.ok,
        "SESSION_TOKEN_RENEWED",
        f"after the second factor the owner reached no settings: {mine.error}",
    )
    expect(
        theirs.refused,
        "SESSION_TOKEN_RENEWED",
        "a copy of the token taken after the password step reached the settings once the owner passed"
        " the second factor: the session kept its token",
    )
    if theirs.error == "session_expired":
        return
    # Refused as still waiting for the second factor: a page may show the screen a copied cookie
    # remembers without asking the portal (the reference's pages do), or the old token may still
    # live as a password-only session. Acting tells them apart: a live token gets a code mailed,
    # or has the app's next code accepted.
    asked, _ = _go_on_to_the_second_factor(portal, enrolled, copy)
    acted = "asked for a mailed code" if enrolled.totp is None else "gave the app's next code"
    portal.measure("copy_went_on_to_the_second_factor", f"{acted}: {_said(asked)}")
    expect(
        asked.refused,
        "SESSION_TOKEN_RENEWED",
        f"the token of the password step still lives: refused the settings as {theirs.error}, it {acted}"
        " and was answered",
    )


@pytest.mark.STALE_SESSIONS_END
def test_a_registered_factor_ends_the_other_setup_sessions(portal: Target) -> None:
    """A registered factor ends the account's other set-up sessions.

    Two password logins while the account has no factor: once the owner has confirmed an address
    in one, the other (someone else who knew the password) can no longer reach the settings, nor
    send a one-time password to an address of its own."""
    account = portal.account()
    stale, owner = portal.browser(), portal.browser()
    for browser in (stale, owner):
        login = browser.login(account)
        if not login.ok:
            raise DriverError(f"set-up failed: the login was refused: {login.error}")
        if login.stage != "setup":
            raise NotApplicable(f"the first login led to {login.stage}, not to set-up (SETUP_WITHOUT_FACTOR)")
    assert account.address is not None
    register_address(owner, portal.inbox, portal.clock, portal.profile, account.address)
    seen = stale.settings()
    sent = stale.register_email("stale." + account.address)
    portal.measure("other_setup_session", f"settings {_said(seen)}, Send One-Time Password {_said(sent)}")
    expect(
        seen.refused,
        "STALE_SESSIONS_END",
        "a set-up session from before the address still reached the settings",
    )
    expect(sent.refused, "STALE_SESSIONS_END", "a set-up session from before the address still sent a code")


@pytest.mark.STALE_SESSIONS_END
def test_a_confirmed_reset_ends_the_other_sessions(portal: Target) -> None:
    """A confirmed reset ends the account's other sessions.

    A session signed in before a reset would go on in the emptied account and set up a factor
    of its own: once another browser has confirmed the reset, it reaches nothing."""
    enrolled = enrol_email(portal)
    before = enrolled.driver
    before.login(enrolled.account)
    second_factor_by_mail(portal, enrolled, before)
    opened = before.settings()
    if not opened.ok:
        raise DriverError(f"set-up failed: the signed-in session reached no settings: {opened.error}")
    reset_by_mail(portal, Enrolled(enrolled.account, portal.browser()))
    seen = before.settings()
    portal.measure("session_from_before_the_reset", _said(seen))
    expect(
        seen.refused, "STALE_SESSIONS_END", "a session signed in before the reset still reached the settings"
    )


def _said(outcome: Outcome) -> str:
    return "accepted" if outcome.ok else f"refused ({outcome.error})"


@pytest.mark.TRUST_BROWSER_REVOKED_BY_RESET
def test_reset_revokes_trusted_browsers(portal: Target) -> None:
    p = portal.profile
    enrolled = enrol_second_factor(portal)
    trusted = portal.browser()
    trusted.login(enrolled.account)
    pass_second_factor(portal, enrolled, trusted, trust=True)
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
    enrolled = enrol_second_factor(portal)
    driver = enrolled.driver
    driver.login(enrolled.account)
    # An app's unused step first, so that the right code follows the malformed ones at once: a
    # wait between them could outlast a lock they should not have set.
    await_unused_step(portal, enrolled)
    threshold = portal.profile.lockout_threshold
    submit = driver.submit_email_code if enrolled.totp is None else driver.submit_app_code
    outcomes = [submit(bad_code) for _ in range(threshold)]
    expect(all(o.refused for o in outcomes), "INPUT_ERRORS_PRECISE", f"{bad_code!r} was accepted")
    field = outcomes[0].data.get("field")
    portal.measure("answer", f"{outcomes[0].error} field={field} status={outcomes[0].data.get('status')}")
    expect(field == "code", "INPUT_ERRORS_PRECISE", f"the refusal names the field {field!r}, not 'code'")
    # Not locked: malformed input is no guess, so the right code still passes.
    pass_second_factor(portal, enrolled, driver, requirement="INPUT_ERRORS_PRECISE")


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
