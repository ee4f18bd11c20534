"""The 2021 portal's reset by link (faq-totp-reset-2021.en.txt Operation Procedure 2–6,
protocol.md §19): the link on the Authentication Setting Page, ID and password, "初期化", the
mail's URL, ID and password again. The set-up that follows (7–12) is the App tab's steps.

Without an address ("ICT Support Center" ①–②, §19.5): the notice mailed to the center, the
center's confirm (the ``operator``), and the QR code screen showing up on the screen left open."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import step, then, when

from ninsho.conformance.actions import read_mail
from ninsho.conformance.interfaces import Clock, Driver, Mailbox, Operator, Outcome
from ninsho.conformance.probes.reset_link import (
    center,
    center_notice,
    link_in,
    notice_problems,
    open_link,
    watch_seconds,
    watcher,
)

from .common import World, browser, describe, expect_ok, fail, need
from .reset import initialized, log_in_for_setup
from .wording import bilingual

if TYPE_CHECKING:
    from ninsho.spec.profile import Profile


def _screen_says(outcome: Outcome, text: str, requirement: str, language: str = "ja") -> None:
    """The screen's message, where the driver sees one (the JSON binding's ``message``), in the
    language the FAQ quotes it in."""
    shown = outcome.data.get("message")
    if isinstance(shown, dict) and text not in str(shown.get(language, "")):
        fail(requirement, f"the screen should say 「{text}」; it says {shown!r}")


@step(
    bilingual(
        'I click "Click here if you have not initialized your one-time password (TOTP) yet."',
        "『Click here if you have not initialized your one-time password (TOTP) yet.』をクリックする",
    )
)
def click_not_initialized_yet(world: World) -> None:
    """FAQ 2: the link is on the Authentication Setting Page, before any login."""
    world.setup_link_clicked = True


@when(
    bilingual(
        'I enter my SPS-ID and PW, click "Login" and then "初期化"',
        "SPS-ID とパスワードを入力して『Login』をクリックし、次の画面で『初期化』をクリックする",
    )
)
def log_in_and_initialize(world: World, driver: Driver, portal_clock: Clock) -> None:
    """FAQ 3: the login of the reset path [RESET_REAUTHENTICATE], then "初期化": it mails the
    link [RESET_LINK_MAIL], or without an address the ICT Support Center [RESET_LINK_HELPDESK_MAIL]."""
    log_in_for_setup(world, driver, portal_clock)
    world.code_requested_at, world.code_purpose = portal_clock.now(), "reset"
    world.mail_to = world.registered_address
    rid = "RESET_LINK_MAIL" if world.registered_address else "RESET_LINK_HELPDESK_MAIL"
    world.outcome = expect_ok(browser(world, driver).initialize(), rid, '"初期化" should be accepted')


@then(
    bilingual(
        'the screen says "メールを送信しました。" and an email with a URL comes to my address',
        "画面に「メールを送信しました。」と表示され、URL の記載されたメールがアドレスに届く",
    )
)
def link_mailed(world: World, mailbox: Mailbox, profile: Profile) -> None:
    """FAQ 4 [RESET_LINK_MAIL] [MAIL_SUBJECT_RESET]."""
    _screen_says(need(world.outcome, "answer"), "メールを送信しました。", "RESET_LINK_MAIL")
    to = need(world.mail_to, "registered address")
    world.mail = read_mail(mailbox, to, profile.mail_subject_reset, world.code_requested_at)
    if link_in(world.mail) is None:
        fail("RESET_LINK_MAIL", f"the reset mail carries no URL: {world.mail.body!r}")


@when(
    bilingual(
        'I click the URL in the mail body, enter my SPS-ID and PW and click "Login"',
        "メール本文の URL をクリックし、表示された画面で SPS-ID とパスワードを入力して『Login』をクリックする",
    )
)
def open_mailed_link(world: World, driver: Driver) -> None:
    """FAQ 5 [RESET_LINK_REQUIRES_PASSWORD]."""
    url = need(link_in(need(world.mail, "reset mail")), "URL in the reset mail")
    world.outcome = open_link(browser(world, driver), url, need(world.account, "account"))


@then(
    bilingual(
        'the screen says "ワンタイムパスワード認証の設定を初期化しました。"',
        "画面に「ワンタイムパスワード認証の設定を初期化しました。」と表示される",
    )
)
def link_initialized(world: World, driver: Driver) -> None:
    """FAQ 6: the settings are initialized, and the set-up opens anew [RESET_THEN_SETUP]."""
    outcome = expect_ok(
        need(world.outcome, "answer"),
        "RESET_LINK_REQUIRES_PASSWORD",
        "the link with ID and password should act",
    )
    _screen_says(outcome, "ワンタイムパスワード認証の設定を初期化しました。", "RESET_THEN_SETUP")
    initialized(world, driver)


# --- no address: the ICT Support Center (faq-totp-reset-2021.en.txt "ICT Support Center" ①–②) --
@then(
    bilingual(
        'the screen says "An email has been sent to the ICT Support Center." and the center gets an email naming my account',
        "画面に「An email has been sent to the ICT Support Center.」と表示され、アカウントを知らせるメールが情報環境支援センターに届く",
    )
)
def center_mailed(world: World, mailbox: Mailbox, profile: Profile) -> None:
    """FAQ 4 and ICT ①: the notice goes to ``helpdesk.email`` and to no one else, naming the
    account, with no link or code [RESET_LINK_HELPDESK_MAIL]."""
    outcome = need(world.outcome, "answer")
    _screen_says(
        outcome, "An email has been sent to the ICT Support Center.", "RESET_LINK_HELPDESK_MAIL", "en"
    )
    account = need(world.account, "account")
    world.mail = center_notice(mailbox, profile, account, world.code_requested_at)
    problems = notice_problems(world.mail, account.login_id)
    if problems:
        fail("RESET_LINK_HELPDESK_MAIL", f"the notice to the ICT Support Center: {'; '.join(problems)}")


@when(
    bilingual(
        "I call the ICT Support Center with the screen left open, and they confirm my identity",
        "画面を開いたまま情報環境支援センターに電話し、本人確認を受ける",
    )
)
def center_confirms(world: World, operator: Operator) -> None:
    """ICT ①–②: the call, and the center's operator action once the caller is verified."""
    world.outcome = expect_ok(
        center(operator).helpdesk_confirm(need(world.account, "account").login_id),
        "RESET_LINK_HELPDESK_CONFIRM",
        "the ICT Support Center should be able to confirm the pending initialization",
    )


@then(
    bilingual(
        "the QR code screen shows up by itself on the screen I left open",
        "開いたままの画面に QR コードの画面が自動的に表示される",
    )
)
def qr_screen_shows_up(world: World, driver: Driver, margin_seconds: float) -> None:
    """ICT ②: "the QR code screen automatically shows up", with no new login
    [RESET_LINK_HELPDESK_CONFIRM]; the user goes on from FAQ 9, in set-up [RESET_THEN_SETUP]."""
    seconds = watch_seconds(margin_seconds)
    moved = watcher(browser(world, driver)).watch_reset_screen(seconds)
    if not (moved.ok and moved.stage == "setup"):
        fail(
            "RESET_LINK_HELPDESK_CONFIRM",
            f"the screen left open should go on to the QR code once the center has confirmed;"
            f" after {seconds:g} s it did not ({describe(moved)})",
        )
    world.outcome, world.entry = moved, "setup"


@when(
    bilingual(
        "the ICT Support Center is asked to confirm the initialization",
        "情報環境支援センターに初期化の確定を依頼する",
    )
)
def center_asked(world: World, operator: Operator) -> None:
    world.outcome = center(operator).helpdesk_confirm(need(world.account, "account").login_id)


@then(bilingual("the ICT Support Center cannot confirm it", "情報環境支援センターは初期化を確定できない"))
def center_refuses(world: World) -> None:
    if need(world.outcome, "answer").ok:
        fail(
            "RESET_LINK_HELPDESK_CONFIRM",
            "the center confirms only a pending initialization of an account with no address; it confirmed one here",
        )
