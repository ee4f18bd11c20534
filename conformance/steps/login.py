"""The login screens: ID and password, the second factor by app or by mail, "Trust this browser",
the device clock, and the time a code or a session lives.

Expected verdicts that depend on the profile (the TOTP window, a code's lifetime, the trust
period) are computed from ``profile`` here, never written into the features as results.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from pytest_bdd import given, parsers, step, then, when

from ninsho.conformance.actions import let_in_on_password, totp_code
from ninsho.conformance.interfaces import Account, Clock, Driver, Mailbox, Outcome
from ninsho.conformance.timing import Span, margin_for

from .common import (
    World,
    browser,
    describe,
    expect_code_refused,
    expect_ok,
    fail,
    fresh_app_code,
    need,
    parse_offset,
    pass_second_factor,
    tagged,
    wrong_app_code,
)
from .wording import bilingual

if TYPE_CHECKING:
    from ninsho.spec.profile import Profile


# --- first factor ----------------------------------------------------------------------------
@step(
    bilingual(
        "I access the settings page and log in with my ECS-ID/SPS-ID and password",
        "多要素認証システムの設定ページにアクセスし、ECS-ID/SPS-ID とパスワードを入力して『ログイン』をクリックする",
    )
)
@step(
    bilingual(
        "I log in again with my ECS-ID/SPS-ID and password",
        "もう一度 ECS-ID/SPS-ID とパスワードでログインする",
    )
)
def log_in(world: World, driver: Driver, portal_clock: Clock) -> None:
    """Manual ① and ②: the settings page opens on the login screen."""
    account = need(world.account, "account")
    world.session_started_at = portal_clock.now()
    outcome = expect_ok(
        browser(world, driver).login(account),
        "FIRST_FACTOR_PASSWORD",
        "the ECS-ID/SPS-ID and password should be accepted",
    )
    world.outcome = world.login_outcome = outcome
    world.entry, world.setup_link_clicked = "login", False


@when(bilingual("I log in with a wrong password", "誤ったパスワードでログインする"))
def log_in_wrong_password(world: World, driver: Driver) -> None:
    account = need(world.account, "account")
    wrong = Account(account.login_id, account.password + "-wrong", account.address)
    world.answers.append(browser(world, driver).login(wrong))


@when(
    bilingual("I log in with an ECS-ID/SPS-ID that does not exist", "存在しない ECS-ID/SPS-ID でログインする")
)
def log_in_unknown_id(world: World, driver: Driver) -> None:
    account = need(world.account, "account")
    unknown = Account(account.login_id + "x9", account.password, account.address)
    world.answers.append(browser(world, driver).login(unknown))


@then(bilingual("both are refused with the same answer", "どちらも同じ応答で拒否される"))
def same_refusal(world: World) -> None:
    """Telling "no such ID" from "wrong password" would let anyone list the IDs."""
    if len(world.answers) != 2:
        fail(
            "FIRST_FACTOR_NO_ENUMERATION",
            f"two login answers should have been collected, got {len(world.answers)}",
        )
    wrong_password, unknown_id = world.answers
    for answer in world.answers:
        if answer.ok:
            fail(
                "FIRST_FACTOR_PASSWORD",
                f"a login with a wrong password or unknown ID should be refused; it gave {answer.stage!r}",
            )
    seen = [(a.error, a.message_en, a.message_ja) for a in world.answers]
    if seen[0] != seen[1]:
        fail(
            "FIRST_FACTOR_NO_ENUMERATION",
            "a wrong password and an unknown ID should get the same answer; got "
            f"{describe(wrong_password)} and {describe(unknown_id)}",
        )


@then(bilingual("I am asked for a one-time password", "ワンタイムパスワードの入力を求められる"))
def asked_for_second_factor(world: World, driver: Driver, request: pytest.FixtureRequest) -> None:
    outcome = need(world.login_outcome, "login")
    if outcome.stage != "first_factor":
        let_in = let_in_on_password(outcome)
        fail(
            tagged(request, "second factor asked", "SECOND_FACTOR_REQUIRED" if let_in else None),
            f"after the password, the portal should ask for a one-time password; stage is {outcome.stage!r}",
        )
    settings = browser(world, driver).settings()
    if settings.ok:
        fail(
            "SECOND_FACTOR_REQUIRED", "the settings should stay closed until the one-time password is entered"
        )


@then(
    bilingual(
        "I go to the initial setup without a one-time password", "ワンタイムパスワードなしで初回設定に進む"
    )
)
def goes_to_setup(world: World, driver: Driver) -> None:
    outcome = need(world.login_outcome, "login")
    if outcome.stage != "setup":
        fail(
            "SETUP_WITHOUT_FACTOR",
            f"an account with no second factor should go to the initial setup; stage is {outcome.stage!r}",
        )
    expect_ok(
        browser(world, driver).settings(),
        "SETUP_WITHOUT_FACTOR",
        "One Time Password Settings should open for the initial setup",
    )


@then(bilingual("I am logged in without a one-time password", "ワンタイムパスワードなしでログインできる"))
def logged_in_without_code(world: World, driver: Driver, request: pytest.FixtureRequest) -> None:
    outcome = need(world.login_outcome, "login")
    rid = tagged(request, "second factor skipped")
    if outcome.stage != "authenticated":
        fail(rid, f"a trusted browser should skip the one-time password; stage is {outcome.stage!r}")
    expect_ok(browser(world, driver).settings(), rid, "the settings should open in a trusted browser")


# --- second factor by app ---------------------------------------------------------------------
def _submit_app(world: World, driver: Driver, code: str, *, trust: bool) -> None:
    world.last_submitted = ("app", code)
    world.outcome = browser(world, driver).submit_app_code(code, trust_browser=trust)


@when(
    bilingual(
        'I enter the one-time password the app shows and click "Login"',
        "アプリに表示されたワンタイムパスワードを入力して『ログイン』をクリックする",
    )
)
def enter_app_code(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    _submit_app(world, driver, fresh_app_code(world, portal_clock, profile), trust=False)


@when(
    bilingual(
        'I tick "Trust this browser", enter the one-time password the app shows and click "Login"',
        "『このブラウザを信頼する』にチェックを入れ、アプリに表示されたワンタイムパスワードを入力して『ログイン』をクリックする",
    )
)
def enter_app_code_trusted(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    _submit_app(world, driver, fresh_app_code(world, portal_clock, profile), trust=True)


@when(
    bilingual(
        parsers.parse(
            'I enter the one-time password of an app whose clock is {offset} time steps off and click "Login"'
        ),
        parsers.parse(
            "時計が {offset} ステップずれたアプリのワンタイムパスワードを入力して『ログイン』をクリックする"
        ),
    )
)
def enter_offset_app_code(
    world: World, driver: Driver, portal_clock: Clock, profile: Profile, offset: str
) -> None:
    world.offset_steps = parse_offset(offset)
    app = need(world.app, "Authenticator app registered")
    at = portal_clock.now() + world.offset_steps * profile.totp_period_seconds
    _submit_app(world, driver, totp_code(app, int(at) // int(app.interval)), trust=False)


@then(
    bilingual(
        "the portal accepts it exactly when the offset is inside the profile's window",
        "ずれがプロファイルの許容範囲内のときに限り受け付けられる",
    )
)
def accepted_inside_window(world: World, profile: Profile) -> None:
    outcome = need(world.outcome, "answer")
    low, high = -profile.totp_window_past_steps, profile.totp_window_future_steps
    window = f"{low:+d}…{high:+d} steps"
    # The current step (offset 0) is the plain RFC 6238 code; any other step is the window's.
    rid = "TOTP_ALGORITHM" if world.offset_steps == 0 else "TOTP_WINDOW"
    if low <= world.offset_steps <= high:
        expect_ok(
            outcome, rid, f"a code {world.offset_steps:+d} steps off is inside the window {window}: accepted"
        )
    else:
        expect_code_refused(
            outcome, rid, f"a code {world.offset_steps:+d} steps off is outside the window {window}"
        )


@when(
    bilingual(
        parsers.parse("the device clock is {minutes:d} minutes fast"),
        parsers.parse("端末の時計が {minutes:d} 分進んでいる"),
    )
)
def device_clock_fast(world: World, profile: Profile, minutes: int) -> None:
    world.device_error_seconds = minutes * 60.0
    steps_off = int(world.device_error_seconds // profile.totp_period_seconds)
    if steps_off <= profile.totp_window_future_steps:
        pytest.fail(
            f"{minutes} minutes is inside this profile's window ({profile.totp_window_future_steps} steps of "
            f"{profile.totp_period_seconds} s): the feature should use a clock error "
            "that the window does not absorb"
        )


@when(bilingual("I set the device clock right", "端末の時計を正しく合わせる"))
def device_clock_right(world: World) -> None:
    world.device_error_seconds = 0.0


# --- second factor by mail ----------------------------------------------------------------------
@step(
    bilingual(
        'I click the "Multi-Factor Authentication : Email" login link',
        "『「多要素認証 : メール」 ログインはこちら』をクリックする",
    )
)
@step(
    bilingual(
        'I click the "Multi-Factor Authentication : Email" login link again',
        "もう一度『「多要素認証 : メール」 ログインはこちら』をクリックする",
    )
)
def request_mail_code(world: World, driver: Driver, portal_clock: Clock) -> None:
    world.code_requested_at, world.code_purpose = portal_clock.now(), "login"
    world.mail_to = need(world.registered_address, "registered address for email-authentication")
    world.outcome = expect_ok(
        browser(world, driver).request_email_code(),
        "SECOND_FACTOR_METHODS",
        "the portal should mail a one-time password to the registered address",
    )
    world.code_issued_at = portal_clock.now()


def _submit_mail_code(world: World, driver: Driver, code: str, *, trust: bool) -> None:
    """When the page has timed out (for a code's age, only at or past its lifetime: see
    ``_check_session_outlives``), the user logs in again and tries the code from the mail, as
    users do. It must then be refused, because it has expired or because it was bound to the
    ended session; a portal that accepts it keeps codes alive past their lifetime."""
    b = browser(world, driver)
    world.last_submitted = ("email", code)
    outcome = b.submit_email_code(code, trust_browser=trust)
    if outcome.error == "session_expired":
        expect_ok(
            b.login(need(world.account, "account")),
            "FIRST_FACTOR_PASSWORD",
            "logging in again should be accepted",
        )
        outcome = b.submit_email_code(code, trust_browser=trust)
    world.outcome = outcome


@step(
    bilingual(
        'I enter the one-time password from the mail and click "Login"',
        "メールのワンタイムパスワードを入力して『ログイン』をクリックする",
    )
)
def enter_mail_code(world: World, driver: Driver) -> None:
    _submit_mail_code(world, driver, need(world.code, "one-time password copied"), trust=False)


@step(
    bilingual(
        'I tick "Trust this browser", enter the one-time password from the mail and click "Login"',
        "『このブラウザを信頼する』にチェックを入れ、メールのワンタイムパスワードを入力して『ログイン』をクリックする",
    )
)
def enter_mail_code_trusted(world: World, driver: Driver) -> None:
    _submit_mail_code(world, driver, need(world.code, "one-time password copied"), trust=True)


@step(
    bilingual(
        'I enter the one-time password from the first mail and click "Login"',
        "最初のメールのワンタイムパスワードを入力して『ログイン』をクリックする",
    )
)
def enter_first_mail_code(world: World, driver: Driver) -> None:
    _submit_mail_code(world, driver, need(world.earlier_code, "code from an earlier mail"), trust=False)


@step(
    bilingual(
        'I enter the same one-time password again and click "Login"',
        "同じワンタイムパスワードをもう一度入力して『ログイン』をクリックする",
    )
)
def enter_same_code_again(world: World, driver: Driver) -> None:
    method, code = need(world.last_submitted, "one-time password entered before")
    if method == "app":
        _submit_app(world, driver, code, trust=False)
    else:
        _submit_mail_code(world, driver, code, trust=False)


@when(
    bilingual(
        'I enter a wrong one-time password and click "Login"',
        "誤ったワンタイムパスワードを入力して『ログイン』をクリックする",
    )
)
def enter_wrong_app_code(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    _submit_app(world, driver, wrong_app_code(world, portal_clock, profile), trust=False)


@when(
    bilingual(
        "I enter wrong one-time passwords as many times as the lockout threshold",
        "ロックアウトの回数だけ誤ったワンタイムパスワードを入力する",
    )
)
def enter_wrong_codes_to_lockout(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    for attempt in range(profile.lockout_threshold):
        _submit_app(world, driver, wrong_app_code(world, portal_clock, profile), trust=False)
        # A code of no step within ±10 of now: accepting it is accepting a step outside the window.
        expect_code_refused(
            need(world.outcome, "answer"), "TOTP_WINDOW", f"wrong code number {attempt + 1} should be refused"
        )


@when(bilingual("the lockout duration passes", "ロックアウト時間が過ぎる"))
def lockout_passes(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    """The first-factor page may time out meanwhile: the user logs in again after waiting."""
    portal_clock.advance(profile.lockout_duration_seconds)
    log_in(world, driver, portal_clock)


# --- outcomes of the second factor ----------------------------------------------------------
@then(bilingual("I am logged in", "ログインできる"))
def logged_in(world: World, driver: Driver, request: pytest.FixtureRequest) -> None:
    rid = tagged(request, "code accepted")
    outcome = expect_ok(need(world.outcome, "answer"), rid, "the one-time password should be accepted")
    if outcome.stage != "authenticated":
        fail(rid, f"after the one-time password the user should be logged in; stage is {outcome.stage!r}")
    expect_ok(browser(world, driver).settings(), rid, "the settings should open once logged in")


@then(bilingual("the one-time password is refused", "ワンタイムパスワードは拒否される"))
def code_refused(world: World, driver: Driver, request: pytest.FixtureRequest) -> None:
    expect_code_refused(
        need(world.outcome, "answer"),
        tagged(request, "code refused"),
        "this one-time password should be refused",
    )
    if browser(world, driver).settings().ok:
        fail("SECOND_FACTOR_REQUIRED", "after a refused one-time password the settings should stay closed")


@then(
    bilingual(
        "the right one-time password the app shows is refused too",
        "アプリに表示された正しいワンタイムパスワードも拒否される",
    )
)
def right_code_refused_when_locked(
    world: World, driver: Driver, portal_clock: Clock, profile: Profile
) -> None:
    _submit_app(world, driver, fresh_app_code(world, portal_clock, profile), trust=False)
    outcome = need(world.outcome, "answer")
    expect_code_refused(
        outcome, "LOCKOUT_THRESHOLD", "while locked out, even the right one-time password should be refused"
    )


# --- time: a mailed code's age, the trust period, an idle session ----------------------------
_AGE = re.compile(r"^(?:(?P<base>lifetime)\s*(?:(?P<sign>[+-])\s*(?P<delta>\d+)\s*s)?|(?P<plain>\d+)\s*s)$")


def parse_age(text: str, lifetime: int) -> float:
    """``0 s``, ``lifetime - 1 s``, ``lifetime``, ``lifetime + 60 s``: relative to the
    profile's lifetime, so a feature stays true for every profile."""
    match = _AGE.match(text.strip())
    if match is None:
        pytest.fail(f"an age is 'N s' or 'lifetime [+|- N s]', not {text!r}")
    if match["plain"] is not None:
        return float(match["plain"])
    delta = int(match["delta"] or 0)
    return float(lifetime + (delta if match["sign"] == "+" else -delta))


def code_lifetime(world: World, profile: Profile) -> int:
    if world.code_kind == "reset":
        return profile.confirmation_code_lifetime_seconds
    return profile.email_otp_lifetime_seconds


@step(bilingual(parsers.parse("{age} passes"), parsers.parse("{age} が経過する")))
def age_passes(world: World, portal_clock: Clock, margin_seconds: float, profile: Profile, age: str) -> None:
    """Time since the code was mailed, not since this step: the mail step took none."""
    lifetime = code_lifetime(world, profile)
    target = parse_age(age, lifetime)
    if target < lifetime:
        target = _within_session(world, portal_clock, margin_seconds, profile, target)
    world.code_age = target
    # Accepted ages count from the request (the code can only be younger), refused ones from
    # the answer (it can only be older): on a running clock neither row depends on latency.
    since = world.code_requested_at if target < lifetime else world.code_issued_at
    portal_clock.advance(max(0.0, since + target - portal_clock.now()))


def _within_session(world: World, clock: Clock, margin_seconds: float, profile: Profile, age: float) -> float:
    """The age at which to enter a code that must be accepted: ``age``, or younger where the
    session that asked for it would end first. A code is bound to its session (protocol.md §7,
    §10), and the first-factor session may last no longer than the code (iimc: 600 s each), so
    "lifetime - 1 s" after the request can fall after the session's end by the time the login
    and the request took. The aim keeps the session open by the run's margin (timing.margin_for,
    widened by the round trips seen), so that a busy machine makes the code a little younger,
    never the row an ERROR; a younger code must be accepted all the same. Only a profile whose
    session is shorter than ``age`` itself cannot judge the row: a harness ERROR, not a FAIL."""
    if world.code_purpose == "register":
        length, ends = profile.session_idle_seconds, world.code_issued_at + profile.session_idle_seconds
    else:
        length = profile.session_first_factor_seconds
        ends = world.session_started_at + length
    if age >= length:
        pytest.fail(
            f"with this profile the {world.code_purpose} session ends before a code {age:.0f} s old is "
            "entered: this Examples row cannot judge the code's lifetime"
        )
    issued = Span(world.code_requested_at, world.code_issued_at)
    latest = ends - margin_for(clock, margin_seconds, issued) - world.code_requested_at
    return max(0.0, min(age, latest))


@then(
    bilingual(
        "the code is accepted exactly while it is younger than its lifetime",
        "コードは有効期限内に限り受け付けられる",
    )
)
def accepted_within_lifetime(world: World, profile: Profile) -> None:
    outcome: Outcome = need(world.outcome, "answer")
    age, lifetime = need(world.code_age, "age of the code"), code_lifetime(world, profile)
    rid = "RESET_CODE_LIFETIME" if world.code_kind == "reset" else "EMAIL_OTP_LIFETIME"
    if age < lifetime:
        expect_ok(outcome, rid, f"a code {age:.0f} s old is within its lifetime of {lifetime} s: accepted")
    else:
        expect_code_refused(outcome, rid, f"a code {age:.0f} s old has outlived its lifetime of {lifetime} s")


@when(bilingual("I use another browser", "別のブラウザを使う"))
def another_browser(world: World, driver: Driver) -> None:
    world.browser = driver.fresh()


@when(
    bilingual(
        "the profile's trust period passes but for one minute",
        "プロファイルの信頼期間まであと1分のところまで時間が過ぎる",
    )
)
def trust_nearly_over(portal_clock: Clock, profile: Profile) -> None:
    portal_clock.advance(profile.trust_browser_duration_seconds - 60)


@when(bilingual("the profile's trust period passes", "プロファイルの信頼期間が過ぎる"))
def trust_over(portal_clock: Clock, profile: Profile) -> None:
    portal_clock.advance(profile.trust_browser_duration_seconds)


@when(
    bilingual(
        "the browser is left idle for the profile's idle time",
        "プロファイルの無操作時間だけブラウザを放置する",
    )
)
def idle(portal_clock: Clock, profile: Profile) -> None:
    portal_clock.advance(profile.session_idle_seconds)


@given(bilingual("the browser is one the user trusted", "利用者はこのブラウザを信頼済みにしている"))
def trusted_browser(
    world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile
) -> None:
    """Log in once ticking "Trust this browser", then log out."""
    account = need(world.account, "account")
    b = browser(world, driver)
    expect_ok(b.login(account), "FIRST_FACTOR_PASSWORD", "the ECS-ID/SPS-ID and password should be accepted")
    expect_ok(
        pass_second_factor(world, driver, mailbox, portal_clock, profile, trust=True),
        "SECOND_FACTOR_METHODS",
        'the one-time password with "Trust this browser" ticked should be accepted',
    )
    expect_ok(b.logout(), "LOGOUT", "logging out should succeed")
