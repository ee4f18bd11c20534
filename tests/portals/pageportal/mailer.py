"""Mail by real SMTP: headers built by EmailMessage so no typed text can add a header."""

from __future__ import annotations

import smtplib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from .profile import Profile


class MailError(RuntimeError):
    """The relay could not take the message."""


def _lifetime(seconds: int) -> tuple[str, str]:
    """The code lifetime in words, Japanese and English."""
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes}分", f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds}秒", f"{seconds} second{'s' if seconds != 1 else ''}"


def build_message(profile: Profile, to: str, code: str, reset: bool, lifetime: int) -> EmailMessage:
    """One mail of the §14 contract: From, To, Subject per profile, UTF-8 body with the code."""
    ja_life, en_life = _lifetime(lifetime)
    if reset:
        subject = profile.text("mail.subject_reset")
        ja, en = "確認コード", "Confirmation code"
    else:
        subject = profile.text("mail.subject_otp")
        ja, en = "ワンタイムパスワード", "One-time password"
    body = (
        f"{ja}: {code}\n有効期限: {ja_life}\n\n"
        f"{en}: {code}\nValid for {en_life}.\n\n"
        "このメールは送信専用です。/ This is a send-only address.\n"
        "京都大学情報環境機構 情報環境支援センター\n"
    )
    sender = profile.text("mail.sender")
    local, _, domain = to.rpartition("@")
    msg = EmailMessage()
    msg["From"] = Address(addr_spec=sender)
    msg["To"] = Address(username=local, domain=domain)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg.set_content(body, charset="utf-8", cte="base64")
    return msg


class Mailer:
    """Sends to one relay given on the command line."""

    def __init__(self, host: str, port: int, sender: str) -> None:
        self.host, self.port, self.sender = host, port, sender

    def send(self, msg: EmailMessage, to: str) -> None:
        """Deliver to exactly one recipient, the envelope sender being the profile's sender."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                smtp.send_message(msg, from_addr=self.sender, to_addrs=[to])
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(str(exc)) from exc
