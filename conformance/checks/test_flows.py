"""The manuals' flows, measured: set-up, one address, app registration, reset, helpdesk,
trusted browsers, sessions and logout. The features in features/ walk the same flows step by
step in both languages; these checks each pin one requirement with the fewest actions."""

from __future__ import annotations

import pyotp
import pytest

from ninsho.conformance import realtime
from ninsho.conformance.actions import (
    let_in_message,
    let_in_on_password,
    mailed_code,
    register_address,
    scan,
    wrong_code,
)
from ninsho.conformance.errors import Inconclusive, RequirementFailed, expect
from ninsho.conformance.interfaces import Account, Outcome
from ninsho.conformance.probes.enrol import (
    Enrolled,
    await_unused_step,
    code_for_step,
    enrol_app,
    enrol_email,
    enrol_second_factor,
    in_settings,
    pass_second_factor,
    second_factor_by_mail,
    settle_in_step,
    signed_in,
    step_of,
    wait_for_step,
)
from ninsho.conformance.target import Target
from ninsho.conformance.timing import (
    TRUST,
    Span,
    age,
    during,
    judge_boundary,
    judge_lifetime,
    margin_for,
    wait_until,
)


@pytest.mark.SETUP_WITHOUT_FACTOR
@pytest.mark.SECOND_FACTOR_REQUIRED
def test_first_login_goes_to_setup_and_second_needs_factor(portal: Target) -> None:
    """No factor: the password leads to set-up. With an address: a second factor first."""
    account, driver = portal.account(), portal.browser()
    login = driver.login(account)
    expect(login.ok and login.stage == "setup", "SETUP_WITHOUT_FACTOR", f"first login gave {login.stage}")
    enrolled = enrol_email(portal)
    login = enrolled.driver.login(enrolled.account)
    expect(login.stage == "first_factor", "SECOND_FACTOR_REQUIRED", f"login with a factor gave {login.stage}")
    early = enrolled.driver.register_email("another@example.org")
    expect(early.refused, "SECOND_FACTOR_REQUIRED", "settings were changed before the second factor")


@pytest.mark.FIRST_FACTOR_PASSWORD
@pytest.mark.FIRST_FACTOR_NO_ENUMERATION
def test_wrong_password_and_unknown_id_look_alike(portal: Target) -> None:
    account = portal.account()
    wrong = portal.browser().login(Account(account.login_id, account.password + "x"))
    unknown = portal.browser().login(Account(account.login_id + "zz9", account.password))
    expect(wrong.refused, "FIRST_FACTOR_PASSWORD", "a wrong password was accepted")
    expect(unknown.refused, "FIRST_FACTOR_PASSWORD", "an unknown ID was accepted")
    expect(
        (wrong.error, wrong.message_en) == (unknown.error, unknown.message_en),
        "FIRST_FACTOR_NO_ENUMERATION",
        f"wrong password: {wrong.error!r}; unknown ID: {unknown.error!r}",
    )


@pytest.mark.EMAIL_REGISTRATION_CONFIRM
@pytest.mark.EMAIL_SINGLE_ADDRESS
@realtime.waits(lambda portal: portal.margin_seconds, what="gap between the two mails")
def test_one_address_only(portal: Target) -> None:
    """Register A, then B: codes go to B only. An unconfirmed address is never used."""
    p = portal.profile
    enrolled = enrol_email(portal)
    first = enrolled.account.address or ""
    second = "second." + first
    driver = enrolled.driver
    driver.login(enrolled.account)
    second_factor_by_mail(portal, enrolled, driver)
    since = portal.clock.now()
    expect(driver.register_email(second).ok, "EMAIL_SINGLE_ADDRESS", "a second address was refused")
    code = mailed_code(portal.inbox, second, p.mail_subject_otp, since, p.email_otp_digits)
    expect(driver.confirm_email(code).ok, "EMAIL_REGISTRATION_CONFIRM", "the new address's code was refused")
    driver.logout()
    driver.login(enrolled.account)
    portal.clock.advance(portal.margin_seconds)
    since = portal.clock.now()
    driver.request_email_code()
    mailed_code(portal.inbox, second, p.mail_subject_otp, since, p.email_otp_digits)
    expect(
        portal.no_mail(first, p.mail_subject_otp, since),
        "EMAIL_SINGLE_ADDRESS",
        "a code went to the replaced address too",
    )


@pytest.mark.APP_MANUAL_KEY
def test_app_registers_by_the_manual_key(portal: Target) -> None:
    """ "QRコードを読み込めない場合" (app-reset.en.txt ⑩): the key shown for typing is the QR
    code's, and an app set up from the typed key registers."""
    driver = in_settings(portal).driver
    provisioning = driver.start_app_registration()
    typed = provisioning.manual_key.replace(" ", "").upper().rstrip("=")
    from_qr = scan(provisioning.uri)
    portal.measure("manual_key_length", len(typed))
    expect(
        typed == from_qr.secret.upper().rstrip("="),
        "APP_MANUAL_KEY",
        "the key shown for typing is not the QR code's",
    )
    app = pyotp.TOTP(typed, digits=from_qr.digits, interval=from_qr.interval, digest=from_qr.digest)
    settle_in_step(portal, needed_seconds=2 * portal.margin_seconds)
    registered = driver.register_app(code_for_step(app, step_of(portal)))
    expect(
        registered.ok,
        "APP_MANUAL_KEY",
        f"a code from the typed key did not register the app: {registered.error}",
    )


@pytest.mark.APP_REGISTER_REQUIRES_CODE
def test_app_needs_register_with_a_code(portal: Target) -> None:
    """Scanning alone registers nothing, and "Register" with a wrong code is refused."""
    enrolled = in_settings(portal)
    driver = enrolled.driver
    totp = scan(driver.start_app_registration().uri)
    now_step = step_of(portal)
    expect(
        driver.register_app(wrong_code(totp, now_step)).refused,
        "APP_REGISTER_REQUIRES_CODE",
        "wrong code took",
    )
    driver.logout()
    login = driver.login(enrolled.account)
    if let_in_on_password(login):  # no second factor asked: the unscanned app has nothing to pass
        raise RequirementFailed("SECOND_FACTOR_REQUIRED", let_in_message(login))
    methods = login.data.get("methods")
    if methods is not None:
        expect(
            "app" not in methods, "APP_REGISTER_REQUIRES_CODE", f"an unregistered app is offered: {methods}"
        )
    settle_in_step(portal, needed_seconds=2 * portal.margin_seconds)
    outcome = driver.submit_app_code(code_for_step(totp, step_of(portal)))
    expect(outcome.refused, "APP_REGISTER_REQUIRES_CODE", "the scanned but unregistered secret logged in")


@pytest.mark.RESET_VOIDS_APPS
@pytest.mark.RESET_CLEARS_EMAIL
@pytest.mark.RESET_THEN_SETUP
@pytest.mark.RESET_SCREEN
@pytest.mark.RESET_ADDRESS_MASKED
@pytest.mark.MAIL_SUBJECT_RESET
@pytest.mark.RESET_CODE_DIGITS
def testreset_by_mail(portal: Target) -> None:
    """The app-reset manual: Initialize, the mailed code, Confirm; the old app no longer works."""
    p = portal.profile
    enrolled = enrol_app(portal)
    assert enrolled.totp is not None
    address = enrolled.account.address or ""
    driver = enrolled.driver
    driver.login_for_setup(enrolled.account)
    since = portal.clock.now()
    screen = driver.initialize()
    shown = str(screen.data.get("shown_address", ""))
    portal.measure("shown_address", shown)
    expect(
        screen.ok and screen.data.get("login_id", enrolled.account.login_id) == enrolled.account.login_id,
        "RESET_SCREEN",
        "the reset page does not show the login ID",
    )
    domain = address.rpartition("@")[2]
    expect(
        shown.endswith("@" + domain) and shown != address and "*" in shown,
        "RESET_ADDRESS_MASKED",
        f"the address is shown as {shown!r}",
    )
    mail = portal.mail(address, p.mail_subject_reset, since)
    expect(mail.subject == p.mail_subject_reset, "MAIL_SUBJECT_RESET", f"subject {mail.subject!r}")
    code = mail.code(p.confirmation_code_digits)
    expect(code is not None, "RESET_CODE_DIGITS", f"no {p.confirmation_code_digits}-digit code in the mail")
    confirmed = driver.confirm_reset(code or "")
    expect(
        confirmed.ok and confirmed.stage == "setup", "RESET_THEN_SETUP", f"after Confirm: {confirmed.stage}"
    )
    settings = driver.settings()
    if p.reset_clears_email:
        expect(not settings.data.get("address"), "RESET_CLEARS_EMAIL", "the address survived the reset")
    # Register a new address, so that a login asks for a second factor again, then try the old app.
    since = portal.clock.now()
    new_address = "after-reset." + address
    driver.register_email(new_address)
    driver.confirm_email(
        mailed_code(portal.inbox, new_address, p.mail_subject_otp, since, p.email_otp_digits)
    )
    driver.logout()
    wait_for_step(portal, enrolled.registered_step + 1)
    driver.login(enrolled.account)
    settle_in_step(portal, needed_seconds=2 * portal.margin_seconds)
    old = driver.submit_app_code(code_for_step(enrolled.totp, step_of(portal)))
    expect(old.refused, "RESET_VOIDS_APPS", "the app registered before the reset still logs in")


def _reset_code(portal: Target, enrolled: Enrolled) -> tuple[str, Span]:
    """A reset login, "Initialize", and the mailed confirmation code, with the span in which
    the portal issued it."""
    p, address, driver = portal.profile, enrolled.account.address or "", enrolled.driver
    driver.login_for_setup(enrolled.account)
    _, issued = during(portal.clock, driver.initialize)
    code = mailed_code(portal.inbox, address, p.mail_subject_reset, issued.start, p.confirmation_code_digits)
    return code, issued


def _ended(outcome: Outcome) -> bool:
    """The session itself was refused (§16.3 "session expired or unknown"), not the code."""
    return outcome.refused and outcome.requirement == "SESSION_EXPIRY"


# §9.4 allows two readings: Confirm in any reset session of the account, or only in the reset
# session that opened the pending reset (or last sent its code). So each check confirms in the
# session that opened it, and logs in again only where both readings must refuse the code.
# The lifetime's two sides are two checks, each on its own account: in real time their waits
# (lifetime + margin, lifetime - margin) overlap instead of adding up (benchmarks/realtime_floor.py).
@pytest.mark.RESET_CODE_LIFETIME
@realtime.waits(
    lambda portal: portal.profile.confirmation_code_lifetime_seconds + portal.margin_seconds,
    what="reset code lifetime",
)
def test_reset_code_refused_after_lifetime(portal: Target) -> None:
    lifetime = portal.profile.confirmation_code_lifetime_seconds
    enrolled = enrol_email(portal)
    code, issued = _reset_code(portal, enrolled)
    wait_until(portal.clock, issued.end + lifetime + margin_for(portal.clock, portal.margin_seconds, issued))
    outcome, used = during(portal.clock, lambda: enrolled.driver.confirm_reset(code))
    if _ended(outcome):
        # The reset session ended with the code (iimc gives both 600 s). A new reset login
        # without a new code: the account reading must refuse the code as expired, the session
        # reading as bound to the ended session; either way the first session's end must not
        # pass for the code's, and an acceptance FAILs.
        enrolled.driver.login_for_setup(enrolled.account)
        outcome, used = during(portal.clock, lambda: enrolled.driver.confirm_reset(code))
    portal.measure("accepted_at_age" if outcome.ok else "refused_at_age", str(age(issued, used)))
    judge_lifetime(outcome.ok, age(issued, used), lifetime, "RESET_CODE_LIFETIME", expect_accept=False)


@pytest.mark.RESET_CODE_LIFETIME
@pytest.mark.RESET_CODE_SINGLE_USE
@realtime.waits(
    lambda portal: portal.profile.confirmation_code_lifetime_seconds - portal.margin_seconds,
    what="reset code lifetime",
)
def test_reset_code_accepted_before_lifetime_and_single_use(portal: Target) -> None:
    lifetime = portal.profile.confirmation_code_lifetime_seconds
    enrolled = enrol_email(portal)
    code, issued = _reset_code(portal, enrolled)
    wait_until(portal.clock, issued.end + lifetime - margin_for(portal.clock, portal.margin_seconds, issued))
    driver = enrolled.driver
    outcome, used = during(portal.clock, lambda: driver.confirm_reset(code))
    if _ended(outcome):
        raise Inconclusive(
            "the reset session that opened the pending reset ended before the code's lifetime: under"
            " the reading of §9.4 that binds Confirm to that session the code is dead with it",
            "RESET_CODE_LIFETIME",
        )
    portal.measure("accepted_at_age" if outcome.ok else "refused_at_age", str(age(issued, used)))
    judge_lifetime(outcome.ok, age(issued, used), lifetime, "RESET_CODE_LIFETIME", expect_accept=True)
    # Used once. The confirmed reset left the account with no factor, and a reset needs one
    # (§9.1): set up the address again, as the manuals' user does (§9.6), then a new reset login
    # and "Initialize" open a pending reset in the very session that offers the used code, so
    # both readings of §9.4 must refuse it only for being spent.
    register_address(driver, portal.inbox, portal.clock, portal.profile, enrolled.account.address or "")
    driver.logout()
    again = portal.browser()
    expect(again.login_for_setup(enrolled.account).ok, "RESET_CODE_SINGLE_USE", "the reset login was refused")
    expect(again.initialize().ok, "RESET_CODE_SINGLE_USE", '"Initialize" was refused after a reset')
    expect(again.confirm_reset(code).refused, "RESET_CODE_SINGLE_USE", "the code confirmed a reset twice")


@pytest.mark.RESET_NO_ADDRESS_PLACEHOLDER
@pytest.mark.HELPDESK_ISSUES_CODE
@pytest.mark.HELPDESK_PENDING_ONLY
def test_reset_without_address_through_helpdesk(portal: Target) -> None:
    """App only, no address: the placeholder is shown, no mail; the helpdesk's code confirms."""
    p = portal.profile
    enrolled = enrol_app(portal, with_email=False)
    login_id = enrolled.account.login_id
    early = portal.operator.helpdesk_code(login_id)
    expect(early.refused, "HELPDESK_PENDING_ONLY", "the helpdesk issued a code with no reset pending")
    driver = enrolled.driver
    driver.login_for_setup(enrolled.account)
    screen = driver.initialize()
    shown = screen.data.get("shown_address")
    portal.measure("shown_address", shown)
    expect(shown == p.reset_placeholder_address, "RESET_NO_ADDRESS_PLACEHOLDER", f"shown: {shown!r}")
    issued = portal.operator.helpdesk_code(login_id)
    expect(issued.ok, "HELPDESK_ISSUES_CODE", f"the helpdesk could not issue a code: {issued.error}")
    confirmed = driver.confirm_reset(str(issued.data.get("code", "")))
    expect(confirmed.ok, "HELPDESK_ISSUES_CODE", f"the helpdesk's code was refused: {confirmed.error}")


@pytest.mark.TRUST_BROWSER
@pytest.mark.TRUST_BROWSER_EXPIRY
@realtime.waits(
    lambda portal: portal.profile.trust_browser_duration_seconds + portal.margin_seconds,
    what='"Trust this browser" duration',
)
def test_trust_this_browser(portal: Target) -> None:
    """A trusted browser skips the second factor until the trust expires; another browser never does."""
    p = portal.profile
    enrolled = enrol_second_factor(portal)
    driver = enrolled.driver
    driver.login(enrolled.account)
    await_unused_step(portal, enrolled)  # an app's code: before the trust's clock starts
    _, trusted = during(
        portal.clock, lambda: pass_second_factor(portal, enrolled, driver, trust=True), one_request=False
    )
    driver.logout()
    duration = p.trust_browser_duration_seconds
    # Still trusted: judged by the trust's age, since a short trust (fast-test's, or a staging
    # portal's 10 s) may be over by the time a slow machine logs in again.
    again, seen = during(portal.clock, lambda: driver.login(enrolled.account))
    skipped, got = again.stage == "authenticated", f"the trusted browser got {again.stage}"
    judge_boundary(
        skipped, age(trusted, seen), duration, "TRUST_BROWSER", TRUST, expect_held=True, detail=got
    )
    other = portal.browser().login(enrolled.account)
    expect(other.stage == "first_factor", "TRUST_BROWSER", f"another browser got {other.stage}")
    driver.logout()
    wait_until(portal.clock, trusted.end + duration + margin_for(portal.clock, portal.margin_seconds))
    late, seen = during(portal.clock, lambda: driver.login(enrolled.account))
    held, got = late.stage != "first_factor", f"the browser got {late.stage}"
    judge_boundary(
        held, age(trusted, seen), duration, "TRUST_BROWSER_EXPIRY", TRUST, expect_held=False, detail=got
    )


@pytest.mark.LOGOUT
def test_logout_ends_the_session(portal: Target) -> None:
    driver = signed_in(portal).driver
    expect(driver.settings().ok, "LOGOUT", "settings refused while logged in")
    expect(driver.logout().ok, "LOGOUT", "logout was refused")
    expect(driver.settings().refused, "LOGOUT", "the session still works after logout")
