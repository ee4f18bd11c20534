"""Throttling: password guessing by account and by client, and the mail sent to one address
(spec/protocol.md §3.1, §12.4, §12.5).

Every client of a harness on one machine has the address 127.0.0.1, so from here counting per
address looks like counting per account. The checks judge the throttle by account from that one
address, and the count per client through the one client the harness can present apart from the
others: a browser trusted for the account (§3.1 says why no more). Each check works on accounts
of its own, and lets the throttle or the limit it set lift (or the pool waits it out, on giving
the account back: conformance/pool.py), so no other check ever meets it.

Times are aimed and judged as the lockout's are (conformance/checks/test_codes.py): from the
span in which the portal saw the events, a margin away from the window's end, and INCONCLUSIVE
where a span straddles it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from ninsho.conformance import realtime
from ninsho.conformance.actions import MAIL_GAP_SECONDS, mailed_code, wrong_mailed_code
from ninsho.conformance.errors import Advisory, NotApplicable, NotSupported, expect
from ninsho.conformance.interfaces import Account, Driver, Outcome
from ninsho.conformance.probes.enrol import Enrolled, enrol_email, second_factor_by_mail
from ninsho.conformance.refusals import HELD_BACK
from ninsho.conformance.target import Target
from ninsho.conformance.timing import Boundary, Span, age, during, judge_boundary, margin_for, wait_until

# How a throttled attempt, or a request refused for a lock or the mail limit, is answered: the
# "rate limited" kind of §16.3, or the "locked" one where a portal answers so (both 429).
THROTTLE = Boundary(
    "password_throttle.window_seconds", held="still throttled", passed="the password accepted"
)
MAIL_WINDOW = Boundary("mail_limit.window_seconds", held="still refused", passed="mailed again")


def _said(outcome: Outcome) -> str:
    if outcome.ok:
        return "accepted"
    status = outcome.data.get("status")
    return f"refused: {outcome.error}" + (f" ({status})" if status else "")


def _wrong(account: Account) -> Account:
    return Account(account.login_id, account.password + "-Wr0ng", account.address)


def _guess(portal: Target, who: Account, times: int) -> tuple[Span, Span, int | None]:
    """``times`` wrong passwords for ``who``, each from a fresh browser (a cookie is not a
    client: a guesser drops it). The spans of the first and the last, and after how many the
    portal held the next one back (None: it took all of them as wrong passwords)."""
    spans: list[Span] = []
    for done in range(times):
        outcome, span = during(portal.clock, lambda: portal.browser().login(who))
        expect(outcome.refused, "FIRST_FACTOR_PASSWORD", f"a wrong password logged in ({_said(outcome)})")
        if outcome.error in HELD_BACK:
            return spans[0] if spans else span, span, done
        spans.append(span)
    return spans[0], spans[-1], None


@pytest.mark.PASSWORD_THROTTLE
@pytest.mark.FIRST_FACTOR_NO_ENUMERATION
@realtime.waits(
    lambda portal: portal.profile.password_throttle_window_seconds + portal.margin_seconds,
    what="password throttle window",
)
def test_password_guessing_is_throttled_by_account(portal: Target) -> None:
    """``max_failures`` wrong passwords from fresh browsers: then the right password is held
    back like a wrong one, at the login and at the reset login, still a window (less the
    failures' own time) after the first failure; and accepted once a window has passed since
    the last. An unknown ID is held back like the known one [FIRST_FACTOR_NO_ENUMERATION]."""
    p, clock = portal.profile, portal.clock
    most, window = p.password_throttle_max_failures, p.password_throttle_window_seconds
    account = portal.account()
    wrong = _wrong(account)
    first, last, early = _guess(portal, wrong, most)
    if early is not None:
        portal.measure("throttled_after", f"{early} wrong passwords")
        raise Advisory(
            "PASSWORD_THROTTLE", f"held back after {early} wrong passwords; the profile allows {most}"
        )
    right, held = during(clock, lambda: portal.browser().login(account))
    again = portal.browser().login(wrong)
    portal.measure("after_max_failures", f"{most} wrong passwords, then the right one {_said(right)}")
    if right.data.get("retry_after") is not None:
        portal.measure("retry_after", right.data["retry_after"])
    _unknown_id_alike(portal, account, again)
    expect(
        right.refused, "PASSWORD_THROTTLE", f"after {most} wrong passwords the right one logged in at once"
    )
    expect(
        right.error in HELD_BACK,
        "PASSWORD_THROTTLE",
        f"after {most} wrong passwords the right one was {_said(right)}, not held back as rate limited",
    )
    expect(
        right.error == again.error,
        "PASSWORD_THROTTLE",
        f"while throttled the right password was {_said(right)} and a wrong one {_said(again)}: the"
        " answer tells a guess that is right",
    )
    _reset_login_held_back(portal, account)
    # Held at least until a window after the first failure (a sliding window), at most until a
    # window after the last (a window that holds): a probe just before the earlier, one after the later.
    margin = margin_for(clock, portal.margin_seconds, first, last, held)
    if clock.now() < first.start + window - margin:
        wait_until(clock, first.start + window - margin)
        still, tried = during(clock, lambda: portal.browser().login(account))
        judge_boundary(
            still.refused, age(first, tried), window, "PASSWORD_THROTTLE", THROTTLE, expect_held=True
        )
    wait_until(clock, last.end + window + margin)
    lifted, tried = during(clock, lambda: portal.browser().login(account))
    portal.measure("after_the_window", _said(lifted))
    judge_boundary(lifted.refused, age(last, tried), window, "PASSWORD_THROTTLE", THROTTLE, expect_held=False)


def _unknown_id_alike(portal: Target, account: Account, known: Outcome) -> None:
    """As many wrong passwords for an ID nobody has, and one more: answered as the known ID's
    was. A throttle for known IDs alone would tell which exist (protocol.md §3.1). A departure
    is noted and the check goes on: the throttle itself is what it judges."""
    unknown = Account(f"{account.login_id}u{secrets.randbelow(10**6):06d}", account.password)
    _guess(portal, unknown, portal.profile.password_throttle_max_failures)
    answer = portal.browser().login(unknown)
    portal.measure("unknown_id_after_max_failures", _said(answer))
    if answer.error != known.error:
        portal.transcript.fail_softly(
            "FIRST_FACTOR_NO_ENUMERATION",
            f"after as many wrong passwords, a known ID is {_said(known)} and an unknown one {_said(answer)}",
        )


def _reset_login_held_back(portal: Target, account: Account) -> None:
    """The reset login takes the same password: it is no way around the throttle."""
    try:
        reset = portal.browser().login_for_setup(account)
    except NotSupported as exc:  # no reset path on this portal: nothing to go around by
        portal.transcript.add(f"the reset login is not tried: {exc.reason()}")
        return
    portal.measure("reset_login_while_throttled", _said(reset))
    expect(
        reset.refused and reset.error in HELD_BACK,
        "PASSWORD_THROTTLE",
        f"while the login was throttled, the reset login with the right password was {_said(reset)}",
    )


@pytest.mark.PASSWORD_THROTTLE
def test_trusted_browser_logs_in_through_a_strangers_throttle(portal: Target) -> None:
    """A stranger who knows only the ID makes ``max_failures`` wrong passwords: a fresh browser
    of the owner is held back, and the owner's browser trusted for the account logs in."""
    p = portal.profile
    if p.trust_browser_duration_seconds <= 0:
        raise NotApplicable("the profile trusts no browser (trust_browser.duration_seconds = 0)")
    enrolled = enrol_email(portal)
    trusted = _trusted_browser(portal, enrolled)
    _, _, early = _guess(portal, _wrong(enrolled.account), p.password_throttle_max_failures)
    held = portal.browser().login(enrolled.account)
    expect(
        held.refused,
        "PASSWORD_THROTTLE",
        f"after {p.password_throttle_max_failures} wrong passwords an untrusted browser logged in at once",
    )
    owner = trusted.login(enrolled.account)
    portal.measure("trusted_browser_during_throttle", _said(owner))
    if early is not None:
        portal.transcript.add(f"the stranger was held back after {early} wrong passwords")
    expect(
        owner.ok,
        "PASSWORD_THROTTLE",
        f"the browser trusted for the account was {_said(owner)} after another browser's wrong passwords:"
        " a stranger who knows only the ID keeps the owner out",
    )


def _trusted_browser(portal: Target, enrolled: Enrolled) -> Driver:
    trusted = portal.browser()
    login = trusted.login(enrolled.account)
    expect(login.ok, "FIRST_FACTOR_PASSWORD", f"the owner's login was {_said(login)}")
    second_factor_by_mail(portal, enrolled, trusted, trust=True)
    trusted.logout()
    return trusted


# --- the mail limit --------------------------------------------------------------------------
def _request(portal: Target, driver: Driver, address: str, n: int) -> tuple[str, Span]:
    """Ask for a login code; the code it mailed, and when the portal mailed it."""
    p = portal.profile
    portal.clock.advance(MAIL_GAP_SECONDS)
    since = portal.clock.now()
    sent, span = during(portal.clock, driver.request_email_code)
    expect(
        sent.ok,
        "MAIL_RATE_LIMIT",
        f"request {n} of the {p.mail_limit_per_address} the profile allows in"
        f" {p.mail_limit_window_seconds} s was {_said(sent)}",
    )
    return mailed_code(portal.inbox, address, p.mail_subject_otp, since, p.email_otp_digits), span


def _flood(portal: Target, enrolled: Enrolled) -> tuple[Driver, str, Span]:
    """Log in and ask for ``per_address`` codes in a row, each mailed, then one more, which must
    mail nothing and be refused: the browser, the last code mailed, and when it was mailed."""
    p, address = portal.profile, enrolled.account.address or ""
    driver = enrolled.driver
    login = driver.login(enrolled.account)
    expect(login.ok and login.stage == "first_factor", "SECOND_FACTOR_REQUIRED", f"login gave {login.stage}")
    code, mailed = "", Span(0.0, 0.0)
    for n in range(1, p.mail_limit_per_address + 1):
        code, mailed = _request(portal, driver, address, n)
    portal.clock.advance(MAIL_GAP_SECONDS)
    since = portal.clock.now()
    over = driver.request_email_code()
    flooded = not portal.no_mail(address, p.mail_subject_otp, since)
    portal.measure(
        "request_over_the_limit", _said(over) + (", and mailed" if flooded else ", nothing mailed")
    )
    expect(
        not flooded,
        "MAIL_RATE_LIMIT",
        f"request {p.mail_limit_per_address + 1} within {p.mail_limit_window_seconds} s was mailed too",
    )
    expect(
        over.refused, "MAIL_RATE_LIMIT", "the request over the limit mailed nothing, yet was answered as sent"
    )
    return driver, code, mailed


@pytest.mark.MAIL_RATE_LIMIT
@realtime.waits(
    lambda portal: (portal.profile.mail_limit_per_address + 2) * MAIL_GAP_SECONDS, what="gaps between mails"
)
def test_mails_to_one_address_are_limited(portal: Target) -> None:
    """``per_address`` codes in a row are mailed and the next request is refused, mailing
    nothing and changing nothing: the last code still logs in. Its use starts the count again."""
    enrolled = enrol_email(portal)
    driver, code, _ = _flood(portal, enrolled)
    used = driver.submit_email_code(code)
    expect(
        used.ok,
        "MAIL_RATE_LIMIT",
        f"after the refused request the last code mailed was {_said(used)}: the refusal changed it",
    )
    driver.logout()
    driver.login(enrolled.account)
    _request(portal, driver, enrolled.account.address or "", 1)
    portal.measure("after_a_code_was_used", "mailed again")


@pytest.mark.MAIL_RATE_LIMIT
@realtime.waits(
    lambda portal: (
        (portal.profile.mail_limit_per_address + 1) * MAIL_GAP_SECONDS
        + portal.profile.mail_limit_window_seconds
        + portal.margin_seconds
    ),
    what="mail limit window",
)
def test_mail_limit_lifts_after_its_window(portal: Target) -> None:
    """After the refused request, a request a window after the last mail is mailed again (the
    limit holds no longer than its window), from a new login: the first one may have ended."""
    p = portal.profile
    enrolled = enrol_email(portal)
    _, _, mailed = _flood(portal, enrolled)
    window = p.mail_limit_window_seconds
    wait_until(portal.clock, mailed.end + window + margin_for(portal.clock, portal.margin_seconds, mailed))
    driver = portal.browser()
    login = driver.login(enrolled.account)
    expect(login.ok, "FIRST_FACTOR_PASSWORD", f"the login after the window was {_said(login)}")
    portal.clock.advance(MAIL_GAP_SECONDS)
    since = portal.clock.now()
    asked, tried = during(portal.clock, driver.request_email_code)
    portal.measure("after_the_window", _said(asked))
    judge_boundary(
        asked.refused, age(mailed, tried), window, "MAIL_RATE_LIMIT", MAIL_WINDOW, expect_held=False
    )
    code = mailed_code(
        portal.inbox, enrolled.account.address or "", p.mail_subject_otp, since, p.email_otp_digits
    )
    used = driver.submit_email_code(code)  # and the count starts again, for whoever uses the account next
    expect(used.ok, "SECOND_FACTOR_REQUIRED", f"the code mailed after the window was {_said(used)}")


@pytest.mark.MAIL_RATE_LIMIT
@realtime.waits(lambda portal: 2 * MAIL_GAP_SECONDS, what="gaps between mails")
def test_no_mail_while_locked(portal: Target) -> None:
    """``lockout.threshold`` wrong codes lock the account; then neither "Email Login" nor
    "Initialize" mails it anything, and each is refused (protocol.md §12.5)."""
    p = portal.profile
    enrolled = enrol_email(portal)
    address, driver = enrolled.account.address or "", enrolled.driver
    login = driver.login(enrolled.account)
    expect(login.ok and login.stage == "first_factor", "SECOND_FACTOR_REQUIRED", f"login gave {login.stage}")
    since = portal.clock.now()
    expect(driver.request_email_code().ok, "EMAIL_OTP_TO_REGISTERED_ADDRESS", "no code could be requested")
    code = mailed_code(portal.inbox, address, p.mail_subject_otp, since, p.email_otp_digits)
    for _ in range(p.lockout_threshold):
        driver.submit_email_code(wrong_mailed_code(code))
    if driver.submit_email_code(code).ok:  # refused while locked, it stays unused
        raise NotApplicable(
            f"the account did not lock after {p.lockout_threshold} wrong codes (LOCKOUT_THRESHOLD's to"
            " judge): no lock to mail through"
        )
    answers: list[str] = []
    refused: list[bool] = []
    mailed: list[bool] = []
    asks: list[tuple[str, str, Callable[[], Outcome | None]]] = [
        ("Email Login", p.mail_subject_otp, driver.request_email_code),
        ("Initialize", p.mail_subject_reset, lambda: _initialize(portal, enrolled)),
    ]
    for what, subject, ask in asks:
        portal.clock.advance(MAIL_GAP_SECONDS)
        since = portal.clock.now()
        answer = ask()
        if answer is None:
            continue
        answers.append(f"{what} {_said(answer)}")
        refused.append(answer.refused)
        mailed.append(not portal.no_mail(address, subject, since))
    said = "; ".join(answers)
    portal.measure("while_locked", said + ("; mailed" if any(mailed) else "; nothing mailed"))
    expect(not any(mailed), "MAIL_RATE_LIMIT", f"the locked account was mailed a code ({said})")
    expect(all(refused), "MAIL_RATE_LIMIT", f"a request was answered as sent while locked: {said}")


def _initialize(portal: Target, enrolled: Enrolled) -> Outcome | None:
    """ "Initialize" from the reset login; None where the portal has no reset path."""
    browser = portal.browser()
    try:
        if not browser.login_for_setup(enrolled.account).ok:
            return None
        return browser.initialize()
    except NotSupported as exc:
        portal.transcript.add(f"Initialize is not tried: {exc.reason()}")
        return None
