"""The mail contract: sender, bilingual subject and a body carrying the code [MAIL_*].

The code comes first in the body, so that a reader (or a harness) never takes another number,
such as the lifetime, for it.

The wording follows the manuals' screens; the profile holds sender and subjects, so a vendor
profile changes them without touching code.
"""

from __future__ import annotations

from ninsho.spec.profile import Profile

from .ports import OutgoingMail
from .state import Purpose


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}" if seconds % 60 == 0 else f"{seconds / 60:.1f}"


FOOTER = (
    "\n--\n"
    "このメールに心当たりがない場合は破棄してください。\n"
    "If you did not request this, please ignore this email.\n"
)


def compose(profile: Profile, purpose: Purpose, to: str, code: str) -> OutgoingMail:
    if purpose is Purpose.RESET:
        subject = profile.mail_subject_reset
        lifetime = _minutes(profile.confirmation_code_lifetime_seconds)
        body = (
            f"確認コード / Confirmation Code: {code}\n\n"
            "ワンタイムパスワード設定初期化用の確認コードをお知らせします。\n"
            "画面の「確認コード」に上記のコードを入力して『確認』をクリックしてください。\n"
            f"有効期限は{lifetime}分です。\n\n"
            "This is your confirmation code for one time password initialization.\n"
            'Enter it in "Confirm Code" on the screen and click "Confirm".\n'
            f"It is valid for {lifetime} minutes.\n"
        )
    else:
        subject = profile.mail_subject_otp
        lifetime = _minutes(profile.email_otp_lifetime_seconds)
        body = (
            f"ワンタイムパスワード / One-Time Password: {code}\n\n"
            "ワンタイムパスワードをお知らせします。\n"
            "画面の「ワンタイムパスワード」に上記の数字を入力してください。\n"
            f"有効期限は{lifetime}分です。一度だけ使用できます。\n\n"
            "Enter the one-time password above on the screen.\n"
            f"It is valid for {lifetime} minutes and can be used only once.\n"
        )
    return OutgoingMail(
        to=to, sender=profile.mail_sender, subject=subject, body=body + FOOTER, purpose=purpose.value
    )


def compose_link(profile: Profile, to: str, link: str) -> OutgoingMail:
    """The 2021 portal's reset mail: the contract of :func:`compose`, with the link on a line
    of its own in place of the code (spec/protocol.md §19.2) [RESET_LINK_MAIL]."""
    lifetime = _minutes(profile.confirmation_code_lifetime_seconds)
    body = (
        f"{link}\n\n"
        "ワンタイムパスワード設定の初期化を受け付けました。\n"
        "上記のURLをクリックし、表示された画面でSPS-IDとパスワードを入力して『Login』をクリックしてください。\n"
        f"有効期限は{lifetime}分です。一度だけ使用できます。\n\n"
        "Your request to initialize the one-time password settings has been received.\n"
        'Click the URL above, then enter your SPS-ID and PW on the screen that appears and click "Login".\n'
        f"It is valid for {lifetime} minutes and can be used only once.\n"
    )
    return OutgoingMail(
        to=to,
        sender=profile.mail_sender,
        subject=profile.mail_subject_reset,
        body=body + FOOTER,
        purpose=Purpose.RESET.value,
    )


HELPDESK_PURPOSE = "helpdesk"  # the notice to the ICT Support Center: no code, no link


def compose_helpdesk_notice(profile: Profile, to: str, login_id: str) -> OutgoingMail:
    """The 2021 portal's mail to the ICT Support Center when an account with no address clicks
    "初期化" (faq-totp-reset-2021.en.txt "ICT Support Center" 1, spec/protocol.md §19.5): the
    contract of :func:`compose`, naming the account, with no link, token or code, since whoever
    reads the center's mail must not be able to reset the account by it
    [RESET_LINK_HELPDESK_MAIL]."""
    body = (
        f"ログインID / Login ID: {login_id}\n\n"
        "メール認証用アドレスが未設定のアカウントから、ワンタイムパスワード設定の初期化の依頼がありました。\n"
        "利用者から電話があったら本人確認を行い、そのうえで初期化を確定してください。"
        "利用者の画面はそのままQRコードの画面に進みます。\n\n"
        "An account with no address for email-authentication asks to initialize its one-time password settings.\n"
        "When the user calls, verify their identity, then confirm the initialization:"
        " the screen the user left open goes on to the QR code by itself.\n"
    )
    return OutgoingMail(
        to=to,
        sender=profile.mail_sender,
        subject=profile.mail_subject_reset,
        body=body,
        purpose=HELPDESK_PURPOSE,
    )
