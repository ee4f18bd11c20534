"""Mail (protocol.md §14): one recipient, headers built by the email package, never by hand.

Headers come only from the profile and the normalised address; EmailMessage refuses CR/LF in a
header value, which is a second guard behind §13 step 2.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from .clock import Clock, Random


class MailError(RuntimeError):
    """The relay did not take the mail."""


def _lifetime_words(seconds: int) -> tuple[str, str] | None:
    """The lifetime in words, or None where it would add a run of six or more digits."""
    if seconds % 60 == 0:
        minutes = seconds // 60
        ja, en = f"{minutes}分", f"{minutes} minute{'s' if minutes != 1 else ''}"
    else:
        ja, en = f"{seconds}秒", f"{seconds} second{'s' if seconds != 1 else ''}"
    return None if len(str(seconds)) >= 6 else (ja, en)


def body_text(kind: str, code: str, lifetime_seconds: int) -> str:
    """A bilingual body whose only run of digits of length >= 6 is the code (§14 Body)."""
    life = _lifetime_words(lifetime_seconds)
    if kind == "reset":
        ja_label, en_label = "確認コード", "Confirmation code"
    else:
        ja_label, en_label = "ワンタイムパスワード", "One-time password"
    lines = [f"{ja_label}: {code}"]
    if life:
        lines.append(f"有効期限: {life[0]}")
    lines += ["", f"{en_label}: {code}"]
    if life:
        lines.append(f"Valid for {life[1]}.")
    lines += [
        "",
        "このメールは送信専用です。/ This is a send-only address.",
        "京都大学情報環境機構 情報環境支援センター",
        "",
    ]
    return "\n".join(lines)


def build_message(
    sender: str, recipient: str, subject: str, body: str, clock: Clock, random: Random
) -> EmailMessage:
    """The message of §14: MIME 1.0, RFC 2047 subject, base64 UTF-8 body, Date and Message-ID."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(addr_spec=sender)
    msg["To"] = Address(addr_spec=recipient)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.fromtimestamp(clock.now(), UTC))
    domain = sender.rpartition("@")[2]
    msg["Message-ID"] = f"<{random.token_bytes(16).hex()}@{domain}>"
    msg.set_content(body, charset="utf-8", cte="base64")
    return msg


class Mailer:
    """Sends through an SMTP relay at host:port."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def send(self, msg: EmailMessage, sender: str, recipient: str) -> None:
        """Deliver to exactly one envelope recipient, with the envelope sender = From."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(msg, from_addr=sender, to_addrs=[recipient])
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(str(exc)) from exc
