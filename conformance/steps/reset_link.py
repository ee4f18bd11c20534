"""The 2021 portal's reset by link (faq-totp-reset-2021.en.txt Operation Procedure 2–6,
protocol.md §19): the link on the Authentication Setting Page, ID and password, "初期化", the
mail's URL, ID and password again. The set-up that follows (7–12) is the App tab's steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import step, then, when

from ninsho.conformance.actions import read_mail
from ninsho.conformance.interfaces import Clock, Driver, Mailbox, Outcome
from ninsho.conformance.probes.reset_link import link_in, open_link

from .common import World, browser, expect_ok, fail, need
from .reset import initialized, log_in_for_setup
from .wording import bilingual

if TYPE_CHECKING:
    from ninsho.spec.profile import Profile


def _screen_says(outcome: Outcome, japanese: str, requirement: str) -> None:
    """The screen's message, where the driver sees one (the JSON binding's ``message``)."""
    shown = outcome.data.get("message")
    if isinstance(shown, dict) and japanese not in str(shown.get("ja", "")):
        fail(requirement, f"the screen should say 「{japanese}」; it says {shown!r}")


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
    """FAQ 3: the login of the reset path [RESET_REAUTHENTICATE], then "初期化" [RESET_LINK_MAIL]."""
    log_in_for_setup(world, driver, portal_clock)
    world.code_requested_at, world.code_purpose = portal_clock.now(), "reset"
    world.mail_to = world.registered_address
    world.outcome = expect_ok(
        browser(world, driver).initialize(), "RESET_LINK_MAIL", '"初期化" should be accepted'
    )


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
