"""Resetting ("Initialize"): "Click here For Initial Setup or Setup Again", the password again,
"Initialize", the mailed confirmation code or the one the ICT Support Center reads out,
"Resend" and "Confirm" (email-change 【If you cannot confirm…】 ③–⑧, app-reset ③–⑧).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pytest_bdd import step, then, when

from ninsho.conformance.interfaces import Clock, Driver, Operator

from .common import World, browser, describe, expect_code_refused, expect_ok, fail, need, tagged
from .wording import bilingual

if TYPE_CHECKING:
    from ninsho.spec.profile import Profile


@step(
    bilingual(
        'I click "Click here For Initial Setup or Setup Again"', "『初回設定・再設定はこちら』をクリックする"
    )
)
def click_setup_again(world: World) -> None:
    """③ The link is on the second-factor screen, which the password login of ② opened."""
    login = need(world.login_outcome, "password login (②)")
    if login.stage != "first_factor":
        fail(
            "SECOND_FACTOR_METHODS",
            f"the link is on the one-time password screen, but the login went to stage {login.stage!r}",
        )
    world.setup_link_clicked = True


@step(
    bilingual(
        'I enter my ECS-ID/SPS-ID and password again and click "Login"',
        "再度、ECS-ID/SPS-ID とパスワードを入力して『ログイン』をクリックする",
    )
)
def log_in_for_setup(world: World, driver: Driver, portal_clock: Clock) -> None:
    """④ The reset asks for the password again, not for a second factor the user has lost."""
    if not world.setup_link_clicked:
        pytest.fail('step ④ follows ③: click "Click here For Initial Setup or Setup Again" first')
    account = need(world.account, "account")
    world.session_started_at = portal_clock.now()
    outcome = expect_ok(
        browser(world, driver).login_for_setup(account),
        "RESET_REAUTHENTICATE",
        "the ID and password should open the initialization",
    )
    if outcome.stage != "reset":
        fail(
            "RESET_REAUTHENTICATE",
            f"the second login should open the initialization screen; stage is {outcome.stage!r}",
        )
    world.outcome, world.entry = outcome, "setup"


@step(bilingual('I click "Initialize"', "『初期化』をクリックする"))
def click_initialize(world: World, driver: Driver, portal_clock: Clock) -> None:
    world.code_requested_at, world.code_purpose = portal_clock.now(), "reset"
    world.mail_to = world.registered_address
    # with an address, "Initialize" mails the code; without one, it shows the placeholder
    rid = "RESET_CONFIRMATION_MAIL" if world.registered_address else "RESET_NO_ADDRESS_PLACEHOLDER"
    world.outcome = expect_ok(browser(world, driver).initialize(), rid, '"Initialize" should be accepted')
    world.code_issued_at = portal_clock.now()


@step(bilingual('I click "Resend"', "『再送信』をクリックする"))
def click_resend(world: World, driver: Driver, portal_clock: Clock) -> None:
    world.code_requested_at, world.code_purpose = portal_clock.now(), "reset"
    world.outcome = expect_ok(browser(world, driver).resend(), "RESET_SCREEN", '"Resend" should be accepted')
    world.code_issued_at = portal_clock.now()


@then(
    bilingual(
        'the screen shows my login ID and my masked address, and "An email has been sent."',
        "ログインIDとマスクされたメール認証用アドレスが表示され、『メールを送信しました。』と表示される",
    )
)
def reset_screen_masked(world: World) -> None:
    outcome = need(world.outcome, "answer")
    account = need(world.account, "account")
    registered = need(world.registered_address, "registered address")
    shown_id, shown = outcome.data.get("login_id"), str(outcome.data.get("shown_address", ""))
    if shown_id != account.login_id:
        fail(
            "RESET_SCREEN", f"the screen should show the login ID {account.login_id!r}; it shows {shown_id!r}"
        )
    local, _, domain = registered.rpartition("@")
    shown_local, _, shown_domain = shown.rpartition("@")
    visible = shown_local.split("*", 1)[0]
    if (
        shown == registered
        or "*" not in shown_local
        or shown_domain != domain
        or not local.startswith(visible)
        or len(visible) >= len(local)
    ):
        fail(
            "RESET_ADDRESS_MASKED",
            f"the screen should show {registered!r} masked, like 'us*****@example.com'; it shows {shown!r}",
        )
    if outcome.data.get("mailed") is False:
        fail(
            "RESET_CONFIRMATION_MAIL",
            'with an address registered the screen should say "An email has been sent."',
        )


@then(
    bilingual(
        "the screen shows, as the address for email-authentication, the placeholder for none registered",
        "メール認証用アドレスに、未設定を示す代わりのアドレスが表示される",
    )
)
def reset_screen_placeholder(world: World, profile: Profile) -> None:
    shown = need(world.outcome, "answer").data.get("shown_address")
    if shown != profile.reset_placeholder_address:
        fail(
            "RESET_NO_ADDRESS_PLACEHOLDER",
            "with no address registered the screen should show "
            f"{profile.reset_placeholder_address!r}; it shows {shown!r}",
        )


@step(
    bilingual(
        "I call the ICT Support Center, who confirm my identity and read out the confirmation code",
        "画面はそのままで情報環境支援センターに電話し、本人確認のうえ確認コードを伝えてもらう",
    )
)
def helpdesk_reads_code(world: World, operator: Operator, portal_clock: Clock, profile: Profile) -> None:
    world.code_requested_at, world.code_purpose = portal_clock.now(), "reset"
    outcome = expect_ok(
        operator.helpdesk_code(need(world.account, "account").login_id),
        "HELPDESK_ISSUES_CODE",
        "the ICT Support Center should be able to issue the confirmation code",
    )
    world.code_issued_at = portal_clock.now()
    code = str(outcome.data.get("code", ""))
    if len(code) != profile.confirmation_code_digits or not code.isdigit():
        fail(
            "RESET_CODE_DIGITS",
            f"the confirmation code should have {profile.confirmation_code_digits} digits; got {code!r}",
        )
    world.earlier_code, world.code, world.code_kind = world.code, code, "reset"


@when(
    bilingual(
        "the ICT Support Center is asked for a confirmation code",
        "情報環境支援センターに確認コードを依頼する",
    )
)
def helpdesk_asked(world: World, operator: Operator) -> None:
    world.outcome = operator.helpdesk_code(need(world.account, "account").login_id)


@then(
    bilingual(
        "the ICT Support Center cannot issue a confirmation code",
        "情報環境支援センターは確認コードを発行できない",
    )
)
def helpdesk_refuses(world: World) -> None:
    outcome = need(world.outcome, "answer")
    if outcome.ok:
        fail(
            "HELPDESK_PENDING_ONLY",
            "the helpdesk issues a code only for a pending initialization of an account with no address; "
            "it issued one here",
        )


def _confirm(world: World, driver: Driver, code: str) -> None:
    """A timed-out page is logged into again through ③④ and the code tried again, as with
    ``login._submit_mail_code``: past its lifetime it must be refused either way."""
    b = browser(world, driver)
    outcome = b.confirm_reset(code)
    if outcome.error == "session_expired":
        expect_ok(
            b.login_for_setup(need(world.account, "account")),
            "RESET_REAUTHENTICATE",
            "logging in again should be accepted",
        )
        outcome = b.confirm_reset(code)
    world.outcome = outcome


@step(
    bilingual(
        'I paste the confirmation code and click "Confirm"',
        "コピーした確認コードをペーストして『確認』をクリックする",
    )
)
@step(
    bilingual(
        'I enter the confirmation code read out and click "Confirm"',
        "伝えられた確認コードを入力して『確認』をクリックする",
    )
)
def confirm_reset(world: World, driver: Driver) -> None:
    _confirm(world, driver, need(world.code, "confirmation code"))


@step(
    bilingual(
        'I enter the confirmation code from the first mail and click "Confirm"',
        "最初のメールの確認コードを入力して『確認』をクリックする",
    )
)
def confirm_first_code(world: World, driver: Driver) -> None:
    _confirm(world, driver, need(world.earlier_code, "code from an earlier mail"))


@step(
    bilingual(
        'I enter a wrong confirmation code and click "Confirm"',
        "誤った確認コードを入力して『確認』をクリックする",
    )
)
def confirm_wrong_code(world: World, driver: Driver, profile: Profile) -> None:
    right = need(world.code, "confirmation code")
    wrong = str((int(right) + 1) % 10**profile.confirmation_code_digits).zfill(
        profile.confirmation_code_digits
    )
    _confirm(world, driver, wrong)


@then(
    bilingual(
        "the settings are initialized and a second factor can be set up anew",
        "設定が初期化され、第二要素を新たに設定できる",
    )
)
def initialized(world: World, driver: Driver) -> None:
    outcome = expect_ok(
        need(world.outcome, "answer"),
        "RESET_THEN_SETUP",
        "the confirmation code should initialize the settings",
    )
    if outcome.stage != "setup":
        fail(
            "RESET_THEN_SETUP",
            f"after initializing, the settings should open for a new set-up; stage is {outcome.stage!r}",
        )
    expect_ok(
        browser(world, driver).settings(),
        "RESET_THEN_SETUP",
        "One Time Password Settings should open after initializing",
    )


@then(bilingual("the confirmation code is refused", "確認コードは拒否される"))
def confirmation_refused(world: World, request: pytest.FixtureRequest) -> None:
    outcome = need(world.outcome, "answer")
    rid = tagged(request, "code refused")
    expect_code_refused(outcome, rid, "this confirmation code should be refused")
    if outcome.stage == "setup":
        fail(rid, f"a refused confirmation code must not initialize anything ({describe(outcome)})")


@when(bilingual("I go back to the first browser", "最初のブラウザに戻る"))
def first_browser(world: World) -> None:
    world.browser = None


@step(
    bilingual(
        "I enter wrong confirmation codes one time fewer than the lockout threshold",
        "ロックアウトの回数より1回少なく誤った確認コードを入力する",
    )
)
def wrong_codes_below_lockout(
    world: World, driver: Driver, profile: Profile, request: pytest.FixtureRequest
) -> None:
    for attempt in range(profile.lockout_threshold - 1):
        confirm_wrong_code(world, driver, profile)
        expect_code_refused(
            need(world.outcome, "answer"),
            tagged(request, "code refused"),
            f"wrong confirmation code {attempt + 1} should be refused",
        )


@then(
    bilingual(
        "even the right confirmation code from the latest mail is refused",
        "最新のメールの正しい確認コードも拒否される",
    )
)
def right_code_refused_locked(world: World, driver: Driver) -> None:
    """A "Resend" gives a new code, not new attempts: the failures before it still count."""
    _confirm(world, driver, need(world.code, "confirmation code"))
    outcome = need(world.outcome, "answer")
    if outcome.ok:
        fail(
            "RESEND_KEEPS_FAILURE_COUNT",
            'the failures before "Resend" should still count and lock the account; '
            "the right code was accepted",
        )
    if outcome.error != "account_locked":
        fail(
            "LOCKOUT_THRESHOLD",
            f"the account should be locked after the lockout threshold of failures; got {describe(outcome)}",
        )
