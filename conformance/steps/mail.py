"""Reading the portal's mail: the manuals' "open the email that matches the subject and sender
below and copy the code written in the email body" (⑥, ⑦, ⑪), and the "An email has been sent"
message that precedes it (⑤, ⑩).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import step

from ninsho.conformance.actions import code_in, read_mail
from ninsho.conformance.interfaces import Mailbox

from .common import World, expect_ok, fail, need
from .wording import bilingual

if TYPE_CHECKING:
    from ninsho.spec.profile import Profile


def _copy_code(world: World, mailbox: Mailbox, profile: Profile, *, kind: str) -> None:
    """The mail found by recipient and time; its sender, subject, digits, body and encoding are
    judged by the mailbox (a FAIL each, and the scenario goes on with the code it read)."""
    subject = profile.mail_subject_reset if kind == "reset" else profile.mail_subject_otp
    digits = profile.confirmation_code_digits if kind == "reset" else profile.email_otp_digits
    to = need(world.mail_to, "action that mails a code")
    mail = read_mail(mailbox, to, subject, world.code_requested_at)
    code = code_in(mail, digits)
    world.mail, world.earlier_code, world.code, world.code_kind = mail, world.code, code, kind


@step(
    bilingual(
        "I open the one-time password mail whose subject and sender match and copy the one-time password",
        "件名と差出人が一致するワンタイムパスワードのお知らせメールを開き、本文のワンタイムパスワードをコピーする",
    )
)
def copy_one_time_password(world: World, mailbox: Mailbox, profile: Profile) -> None:
    _copy_code(world, mailbox, profile, kind="otp")


@step(
    bilingual(
        "I open the confirmation code mail whose subject and sender match and copy the confirmation code",
        "件名と差出人が一致する確認コードのお知らせメールを開き、本文の確認コードをコピーする",
    )
)
def copy_confirmation_code(world: World, mailbox: Mailbox, profile: Profile) -> None:
    _copy_code(world, mailbox, profile, kind="reset")


@step(
    bilingual(
        'the message "An email has been sent to" the address appears',
        "『〇〇〇へメールを送信しました。』というメッセージが表示される",
    )
)
def email_sent_message(world: World) -> None:
    """The message names the address the mail went to, so a typo is seen at once."""
    outcome = expect_ok(
        need(world.outcome, "answer"), "MESSAGE_EMAIL_SENT", "the portal should say it has sent an email"
    )
    expected = need(world.mail_to, "address the mail should go to")
    shown = outcome.data.get("address")
    if shown != expected:
        fail("MESSAGE_EMAIL_SENT", f"the message should name the address {expected!r}; it names {shown!r}")


@step(
    bilingual("the portal explains it in Japanese and in English", "ポータルはその理由を日本語と英語で示す")
)
def explained_bilingually(world: World) -> None:
    """The manuals' screens are bilingual, so are the portal's messages."""
    outcome = need(world.outcome, "answer")
    japanese = any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in outcome.message_ja)
    english = any(c.isascii() and c.isalpha() for c in outcome.message_en)
    if not (japanese and english):
        fail(
            "MESSAGES_BILINGUAL",
            "the message should be in Japanese and in English; "
            f"got {outcome.message_ja!r} / {outcome.message_en!r}",
        )
