""" "One Time Password Settings": the Mail tab (address for email-authentication) and the App tab
(QR code, manual key, "Register"), and logging out through "☰".
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from pytest_bdd import parsers, step, then, when

from ninsho.conformance.actions import quiet_seconds, scan
from ninsho.conformance.interfaces import Clock, Driver, Mailbox, MailTimeout
from ninsho.conformance.probes.addresses import AddressCase, register_case

from .common import (
    World,
    browser,
    describe,
    expect_code_refused,
    expect_ok,
    fail,
    fresh_app_code,
    need,
    pass_second_factor,
    plus_address,
    quiet_mark,
    register_address,
    settings_requirement,
    sign_in,
    tagged,
    wrong_app_code,
)
from .vectors import address_case, requirement_of
from .wording import bilingual

if TYPE_CHECKING:
    from ninsho.spec.profile import Profile

_REFUSAL_ERRORS = {"blocked": "blocked_address", "invalid": "invalid_address"}


# --- ② ③ ⑧ ⑨: the "☰" menu ---------------------------------------------------------------------
@step(
    bilingual(
        'I click "☰" and then "One Time Password Settings"',
        "右上の『☰』をクリックし、『ワンタイムパスワードの設定』をクリックする",
    )
)
def open_settings(world: World, driver: Driver) -> None:
    world.outcome = expect_ok(
        browser(world, driver).settings(),
        settings_requirement(world),
        "One Time Password Settings should open",
    )


@step(bilingual('I click "☰" and then "Logout"', "右上の『☰』をクリックし、『ログアウト』をクリックする"))
def log_out(world: World, driver: Driver) -> None:
    world.outcome = expect_ok(browser(world, driver).logout(), "LOGOUT", "Logout should succeed")


@then(
    bilingual(
        "I am logged out: the settings ask me to log in again",
        "ログアウトされ、設定を開くには再度ログインが必要になる",
    )
)
def logged_out(world: World, driver: Driver, request: pytest.FixtureRequest) -> None:
    answer = browser(world, driver).settings()
    if answer.ok:
        fail(
            tagged(request, "logged out"),
            "after Logout (or an idle timeout) the settings should ask for a login again; they opened",
        )


# --- the Mail tab ④–⑩ ---------------------------------------------------------------------------
def _send_to(
    world: World,
    driver: Driver,
    portal_clock: Clock,
    typed: str,
    expected_to: str,
    case: AddressCase | None = None,
) -> None:
    """ "Send One-Time Password" with ``typed``; for a vector's ``case``, judged as the checks
    judge it (:func:`register_case`: a server error FAILs it, a hold-back is INCONCLUSIVE)."""
    world.code_requested_at, world.code_purpose = portal_clock.now(), "register"
    world.mail_to = expected_to
    b = browser(world, driver)
    world.outcome = b.register_email(typed) if case is None else register_case(b, case, typed)
    world.code_issued_at = portal_clock.now()


@step(
    bilingual(
        'I enter my private address and click "Send One-Time Password"',
        "メールアドレスを入力し『ワンタイムパスワードを送信』をクリックする",
    )
)
def enter_private_address(world: World, driver: Driver, portal_clock: Clock) -> None:
    address = need(need(world.account, "account").address, "test inbox")
    _send_to(world, driver, portal_clock, address, address)


@step(
    bilingual(
        'I enter a new private address and click "Send One-Time Password"',
        "送信先のメールアドレスに新しいアドレスを入力して『ワンタイムパスワードを送信』をクリックする",
    )
)
def enter_new_address(world: World, driver: Driver, portal_clock: Clock) -> None:
    address = plus_address(need(need(world.account, "account").address, "test inbox"), "new")
    _send_to(world, driver, portal_clock, address, address)


@step(
    bilingual(
        'I paste the one-time password and click "Confirm"',
        "コピーしたワンタイムパスワードをペーストして『確認』をクリックする",
    )
)
def confirm_address(
    world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile
) -> None:
    """A settings page that timed out is logged into again and the code tried again, as with
    ``login._submit_mail_code``."""
    code = need(world.code, "one-time password copied")
    outcome = browser(world, driver).confirm_email(code)
    if outcome.error == "session_expired":
        sign_in(world, driver, mailbox, portal_clock, profile)
        outcome = browser(world, driver).confirm_email(code)
    world.outcome = outcome


@step(
    bilingual(
        'I paste the one-time password from the first mail and click "Confirm"',
        "最初のメールのワンタイムパスワードをペーストして『確認』をクリックする",
    )
)
def confirm_address_first_code(world: World, driver: Driver) -> None:
    world.outcome = browser(world, driver).confirm_email(
        need(world.earlier_code, "code from an earlier mail")
    )


@then(
    bilingual(
        "the one-time password is refused and the address is not registered",
        "ワンタイムパスワードは拒否され、アドレスは登録されない",
    )
)
def address_not_registered(world: World, driver: Driver, request: pytest.FixtureRequest) -> None:
    expect_code_refused(
        need(world.outcome, "answer"),
        tagged(request, "code refused"),
        "this one-time password should not confirm the address",
    )
    settings = expect_ok(
        browser(world, driver).settings(), settings_requirement(world), "the settings should open"
    )
    shown = settings.data.get("address")
    if shown == world.mail_to:
        fail(
            "EMAIL_REGISTRATION_CONFIRM",
            f"the address {shown!r} should not be registered by a refused one-time password",
        )


@then(bilingual("the address for email-authentication is registered", "メール認証用アドレスが登録される"))
def address_registered(world: World, driver: Driver) -> None:
    expected = need(world.mail_to, "address entered")
    expect_ok(
        need(world.outcome, "answer"),
        "EMAIL_REGISTRATION_CONFIRM",
        f"the mailed one-time password should register {expected!r}",
    )
    settings = expect_ok(
        browser(world, driver).settings(), settings_requirement(world), "the settings should open"
    )
    shown = settings.data.get("address")
    if shown != expected:
        fail(
            "EMAIL_REGISTRATION_CONFIRM",
            f"the settings should show the registered address {expected!r}; they show {shown!r}",
        )
    world.old_address, world.registered_address = world.registered_address, expected


@then(
    bilingual(
        "the next login asks for the one-time password mailed to the registered address",
        "次回のログインでは登録したアドレスに送られたワンタイムパスワードを求められる",
    )
)
def next_login_by_mail(
    world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile
) -> None:
    b = browser(world, driver)
    login = expect_ok(
        b.login(need(world.account, "account")), "FIRST_FACTOR_PASSWORD", "the password should be accepted"
    )
    if login.stage != "first_factor":
        fail(
            "SECOND_FACTOR_METHODS",
            f"with an address registered, the login should ask for a one-time password; stage {login.stage!r}",
        )
    world.app = None  # this check is about the mail
    expect_ok(
        pass_second_factor(world, driver, mailbox, portal_clock, profile),
        "SECOND_FACTOR_METHODS",
        "the mailed code should log in",
    )


@then(
    bilingual(
        "the next login mails the one-time password to the new address and not to the old one",
        "次回のログインではワンタイムパスワードが新しいアドレスにだけ送られ、古いアドレスには送られない",
    )
)
def next_login_new_address_only(
    world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile
) -> None:
    old = need(world.old_address, "earlier address")
    since = quiet_mark(portal_clock)
    next_login_by_mail(world, driver, mailbox, portal_clock, profile)
    try:
        stray = mailbox.wait_for(
            old, subject=profile.mail_subject_otp, since=since, timeout=quiet_seconds(mailbox)
        )
    except MailTimeout:
        return
    fail(
        "EMAIL_SINGLE_ADDRESS",
        f"only one address may be registered: the old address {old!r} still got a code ({stray.subject!r})",
    )


@then(
    bilingual("the next login goes straight to the initial setup", "次回のログインはそのまま初回設定に進む")
)
def next_login_setup(
    world: World, driver: Driver, portal_clock: Clock, profile: Profile, request: pytest.FixtureRequest
) -> None:
    b = browser(world, driver)
    b.logout()  # whatever state the browser is in, start from the login screen
    login = expect_ok(
        b.login(need(world.account, "account")), "FIRST_FACTOR_PASSWORD", "the password should be accepted"
    )
    if login.stage != "setup":
        left = (
            _factor_left_by_reset(world, b, portal_clock, profile) if login.stage == "first_factor" else None
        )
        fail(
            left or tagged(request, "straight to setup"),
            "with no second factor registered the login should go straight to the initial setup; "
            f"stage is {login.stage!r}" + ("; a factor from before the reset still works" if left else ""),
        )


def _factor_left_by_reset(world: World, b: Driver, portal_clock: Clock, profile: Profile) -> str | None:
    """After a reset (this browser came in by ③④), a login that asks for a second factor shows
    that the reset left one in place; the user tries theirs to tell which: the app registered
    before the reset still logging in breaks RESET_VOIDS_APPS, a code still mailed to the old
    address RESET_CLEARS_EMAIL. Anything else: ``None``."""
    if world.entry != "setup":
        return None
    if (
        profile.reset_voids_apps
        and world.app is not None
        and b.submit_app_code(fresh_app_code(world, portal_clock, profile)).ok
    ):
        return "RESET_VOIDS_APPS"
    if profile.reset_clears_email and world.registered_address is not None and b.request_email_code().ok:
        return "RESET_CLEARS_EMAIL"
    return None


@step(bilingual("I register my private address again", "プライベートなアドレスを再び登録する"))
def register_again(
    world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile
) -> None:
    address = need(need(world.account, "account").address, "test inbox")
    register_address(world, driver, mailbox, portal_clock, profile, address)


# --- the address rule (Note; ④ and ⑨ "The following addresses cannot be registered") ----------
@when(
    bilingual(
        parsers.parse(
            'I enter the address of case "{case}", written "{address}", and click "Send One-Time Password"'
        ),
        parsers.parse(
            "事例「{case}」のアドレス「{address}」を入力し『ワンタイムパスワードを送信』をクリックする"
        ),
    )
)
def enter_case_address(
    world: World, driver: Driver, portal_clock: Clock, profile: Profile, case: str, address: str
) -> None:
    vector = address_case(case, address, profile)
    world.address_case = vector
    _send_to(world, driver, portal_clock, vector.input, vector.normalized or "", vector)


@then(
    bilingual(
        "the portal gives the verdict the address vectors give for that case",
        "ポータルの判定がアドレスの試験ベクトルの判定と一致する",
    )
)
def verdict_as_vectors(world: World) -> None:
    case = need(world.address_case, "address case")
    outcome = need(world.outcome, "answer")
    verdict = case.verdict
    rid = requirement_of(case)
    what = f"case {case.id!r}, {case.input!r} ({case.note})"
    if verdict == "accepted":
        expect_ok(outcome, rid, f"{what} should be accepted")
        if outcome.data.get("address") != case.normalized:
            fail(
                "EMAIL_ADDRESS_NORMALIZATION",
                f"{what}: the portal should use {case.normalized!r}; it says {outcome.data.get('address')!r}",
            )
    elif outcome.ok:
        fail(
            rid,
            f"{what} should be refused as {verdict}; "
            f"the portal accepted it as {outcome.data.get('address')!r}",
        )
    elif outcome.error != _REFUSAL_ERRORS[verdict]:
        fail(rid, f"{what} should be refused as {verdict}; the portal refused it with {describe(outcome)}")


@then(
    bilingual(
        "a one-time password is mailed only for an accepted address, to its normalized form",
        "ワンタイムパスワードは受け付けられたアドレスにだけ、正規化された形で送られる",
    )
)
def mailed_only_if_accepted(world: World, mailbox: Mailbox, profile: Profile) -> None:
    case = need(world.address_case, "address case")
    target = case.normalized or case.input
    try:
        mail = mailbox.wait_for(
            target,
            subject=profile.mail_subject_otp,
            since=world.code_requested_at,
            timeout=quiet_seconds(mailbox),
        )
    except MailTimeout:
        if case.verdict == "accepted":
            fail(
                "EMAIL_ADDRESS_NORMALIZATION",
                f"case {case.id!r} is accepted, so a one-time password should be mailed to {target!r}",
            )
        return
    if case.verdict != "accepted":
        # a mail for input with a line break inside is a header injection, whatever else it breaks
        injected = any(c in case.input.strip() for c in "\r\n")
        fail(
            "MAIL_HEADER_INJECTION" if injected else requirement_of(case),
            f"case {case.id!r} must not be registered, yet a code was mailed to {mail.to!r}",
        )


# --- the App tab ⑨–⑪ -----------------------------------------------------------------------------
@step(bilingual('I click "App"', "『アプリ』をクリックする"))
def open_app_tab(world: World, driver: Driver) -> None:
    """⑨ The App tab is part of the settings page: it must be open to the user."""
    world.outcome = expect_ok(
        browser(world, driver).settings(),
        settings_requirement(world),
        "the settings with their App tab should open",
    )


@step(
    bilingual(
        "I scan the QR code with the Authenticator app",
        "スマートフォンの Authenticator アプリで QR コードを読み込む",
    )
)
def scan_qr(world: World, driver: Driver) -> None:
    provisioning = browser(world, driver).start_app_registration()
    if world.app is not None:
        world.old_apps.append(world.app)
    world.provisioning, world.app, world.last_app_step = provisioning, scan(provisioning.uri), None


@then(
    bilingual(
        "the QR code gives the app a key with the profile's digits, period and algorithm",
        "QR コードからプロファイルどおりの桁数・周期・アルゴリズムの鍵がアプリに登録される",
    )
)
def qr_parameters(world: World, profile: Profile) -> None:
    uri = need(world.provisioning, "QR code").uri
    parts = urlsplit(uri)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if (parts.scheme, parts.netloc) != ("otpauth", "totp"):
        fail(
            "APP_PROVISIONING_URI",
            f"the QR code should hold an otpauth://totp/ URI; it holds {parts.scheme}://{parts.netloc}/",
        )
    expected = {
        "digits": str(profile.totp_digits),
        "period": str(profile.totp_period_seconds),
        "algorithm": profile.totp_algorithm,
    }
    got = {k: query.get(k, _KEY_URI_DEFAULTS[k]) for k in expected}
    if got != expected:
        fail("APP_PROVISIONING_URI", f"the QR code should carry {expected}; it carries {got}")
    secret = query.get("secret", "")
    secret_bits = len(secret.rstrip("=")) * 5
    if secret_bits < profile.totp_secret_bytes * 8:
        fail(
            "TOTP_SECRET_STRENGTH",
            f"the key should have at least {profile.totp_secret_bytes * 8} bits; it has {secret_bits}",
        )


# Google's Key Uri Format: what an app assumes when the URI leaves a parameter out.
_KEY_URI_DEFAULTS = {"digits": "6", "period": "30", "algorithm": "SHA1"}


@step(
    bilingual(
        'I cannot scan the QR code and type the key shown under "If you cannot scan the QR code" into the app',
        "QR コードを読み込めないため、『QRコードを読み込めない場合』に表示されるキーをアプリに手入力する",
    )
)
def type_manual_key(world: World, driver: Driver, profile: Profile) -> None:
    provisioning = browser(world, driver).start_app_registration()
    world.provisioning, world.last_app_step = provisioning, None
    key = provisioning.manual_key.replace(" ", "").upper()
    world.app = pyotp.TOTP(
        key,
        digits=profile.totp_digits,
        interval=profile.totp_period_seconds,
        digest=profile.totp_algorithm.lower(),
    )


@then(
    bilingual("the key typed by hand is the key of the QR code", "手入力したキーは QR コードの鍵と同じである")
)
def manual_key_matches(world: World) -> None:
    provisioning = need(world.provisioning, "QR code")
    qr_secret = scan(provisioning.uri).secret.upper()
    typed = provisioning.manual_key.replace(" ", "").upper()
    if typed.rstrip("=") != qr_secret.rstrip("="):
        fail("APP_MANUAL_KEY", "the key shown for typing should be the QR code's key")


@step(
    bilingual(
        'I enter the one-time password the app shows and click "Register"',
        "アプリに表示されたワンタイムパスワードを入力して『登録』をクリックする",
    )
)
def click_register(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    world.outcome = browser(world, driver).register_app(fresh_app_code(world, portal_clock, profile))


@step(
    bilingual(
        'I enter a wrong one-time password and click "Register"',
        "誤ったワンタイムパスワードを入力して『登録』をクリックする",
    )
)
def click_register_wrong(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    world.outcome = browser(world, driver).register_app(wrong_app_code(world, portal_clock, profile))


@then(bilingual("the app is registered", "アプリが登録される"))
def app_registered(world: World) -> None:
    expect_ok(
        need(world.outcome, "answer"),
        "APP_REGISTER_REQUIRES_CODE",
        'the current one-time password and "Register" should register the app',
    )


@then(bilingual("the registration is refused", "登録は拒否される"))
def registration_refused(world: World) -> None:
    expect_code_refused(
        need(world.outcome, "answer"),
        "APP_REGISTER_REQUIRES_CODE",
        "a wrong one-time password should not register the app",
    )


def _login_with(world: World, driver: Driver, app: pyotp.TOTP, portal_clock: Clock, profile: Profile) -> bool:
    b = browser(world, driver)
    login = expect_ok(
        b.login(need(world.account, "account")), "FIRST_FACTOR_PASSWORD", "the password should be accepted"
    )
    if login.stage != "first_factor":
        return login.stage == "authenticated"
    current, world.app = world.app, app
    try:
        answer = b.submit_app_code(fresh_app_code(world, portal_clock, profile))
    finally:
        world.app = current
    return answer.ok


@then(
    bilingual(
        "the next login accepts the app's one-time password",
        "次回のログインではアプリのワンタイムパスワードが受け付けられる",
    )
)
def next_login_app_accepted(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    app = need(world.app, "Authenticator app")
    if not _login_with(world, driver, app, portal_clock, profile):
        fail("SECOND_FACTOR_METHODS", "the registered app's one-time password should log in")


@then(
    bilingual(
        "the next login does not accept the app's one-time password",
        "次回のログインではアプリのワンタイムパスワードは受け付けられない",
    )
)
def next_login_app_refused(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    app = need(world.app, "Authenticator app")
    if _login_with(world, driver, app, portal_clock, profile):
        fail(
            "APP_REGISTER_REQUIRES_CODE",
            'scanning the QR code without "Register" should not register the app, yet its code logged in',
        )


@then(
    bilingual(
        "the next login accepts only the new app's one-time password, not the old app's",
        "次回のログインでは新しいアプリのワンタイムパスワードだけが受け付けられ、古いアプリのものは拒否される",
    )
)
def next_login_only_new_app(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    old = need(world.old_apps[-1] if world.old_apps else None, "app registered before the reset")
    b = browser(world, driver)
    b.logout()
    if _login_with(world, driver, old, portal_clock, profile):
        fail(
            "RESET_VOIDS_APPS",
            "initializing voids every earlier app registration, yet the old app's code logged in",
        )
    b.logout()
    next_login_app_accepted(world, driver, portal_clock, profile)
