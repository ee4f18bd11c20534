"""The SMTP edge: the core's :class:`OutgoingMail` as a real message to a relay [MAIL_*].

The core decides sender, subject and body; this module only encodes them: the subject as
RFC 2047 encoded-words (the policy below has ``utf8=False``, so no SMTPUTF8 is needed), the body
as UTF-8 in base64 so the message is 7-bit clean through any relay, plus Date and Message-ID.
Header values are checked for CR/LF here again although the core's address rules refuse them
first: a mailer is the last place a header injection can be stopped [MAIL_HEADER_INJECTION].
"""

from __future__ import annotations

import smtplib
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ninsho.reference.clocks import SystemClock
from ninsho.reference.core.addresses import ENCODED_WORD
from ninsho.reference.core.errors import MailNotSent
from ninsho.reference.core.ports import Clock, OutgoingMail

DEFAULT_TIMEOUT_SECONDS = 10.0
_POLICY = policy.SMTP.clone(utf8=False, max_line_length=78)


def build_message(mail: OutgoingMail, *, now: float) -> EmailMessage:
    """The wire form of ``mail``; refuses a header value with a line break in it."""
    for name, value in (("From", mail.sender), ("To", mail.to), ("Subject", mail.subject)):
        if any(c in value for c in "\r\n\x00"):
            raise _refused(name, "contains a line break", "に改行が含まれている")
    for name, value in (("From", mail.sender), ("To", mail.to)):
        # Python's email package decodes RFC 2047 encoded-words even in address headers, so
        # text like "=?utf-8?b?...?=" would be written out as other addresses: never set one.
        if ENCODED_WORD.search(value) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise _refused(
                name,
                "holds an encoded word or a control character",
                "にエンコードされた語または制御文字が含まれている",
            )
    message = EmailMessage(policy=_POLICY)
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(now, usegmt=True)
    domain = mail.sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(mail.body, charset="utf-8", cte="base64")
    return message


def _refused(header: str, why_en: str, why_ja: str) -> MailNotSent:
    return MailNotSent(
        f"The {header} header {why_en} and was not sent.",
        f"{header} ヘッダー{why_ja}ため送信しませんでした。",
        requirement="MAIL_HEADER_INJECTION",
        field="address" if header == "To" else None,
        status_hint=422,
    )


class SmtpMailer:
    """A :class:`~ninsho.reference.core.ports.Mailer` that relays through ``host:port``.

    One connection per mail: the portal sends a few mails per user action, and a fresh
    connection never inherits a half-broken one. The clock stamps ``Date``, so a server run with
    the test clock dates its mail in the portal's time.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.clock = clock or SystemClock()

    def send(self, mail: OutgoingMail) -> None:
        message = build_message(mail, now=self.clock.now())
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as relay:
                refused = relay.send_message(message, from_addr=mail.sender, to_addrs=[mail.to])
        except (smtplib.SMTPException, OSError, UnicodeError) as exc:
            raise _not_sent(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            raise _not_sent(f"the relay refused {sorted(refused)}")


def _not_sent(detail: str) -> MailNotSent:
    error = MailNotSent(
        "The email could not be sent. Please try again later, or contact the ICT Support Center.",
        "メールを送信できませんでした。時間をおいて再度お試しいただくか、情報環境支援センターにご連絡ください。",
    )
    error.add_note(detail)  # for the server log; users see only the message above
    return error
