"""An SMTP sink on loopback (aiosmtpd) that keeps every mail, for measuring allauth's mail.

Not the harness's mailbox (conformance/mailboxes.py): a dozen lines that the measurements and
the peer test own, so that what they measure does not depend on the harness. aiosmtpd's
``Controller`` needs a concrete port (0 does not work with it), so the port is picked first.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from examples.allauth_portal.server import free_port


@dataclass(frozen=True)
class Mail:
    """One mail as it arrived: when, to whom, and the parsed message."""

    received: float  # time.time() at arrival
    to: tuple[str, ...]
    message: EmailMessage

    @property
    def sender(self) -> str:
        return str(self.message["From"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class _Keeper:
    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.arrived:
            self.mails.append(Mail(time.time(), tuple(envelope.rcpt_tos), message))
            self.arrived.notify_all()
        return "250 OK"


class MailSink:
    """``with MailSink() as sink:`` an SMTP server on 127.0.0.1:``sink.port`` for the block."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self._keeper = _Keeper()
        self._controller = Controller(self._keeper, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def mails(self) -> list[Mail]:
        with self._keeper.arrived:
            return list(self._keeper.mails)

    def wait_for(self, to: str, since: float, timeout: float = 15.0) -> Mail:
        """The first mail to ``to`` that arrived at or after ``since`` (a time.time())."""
        deadline = time.monotonic() + timeout
        with self._keeper.arrived:
            while True:
                for mail in self._keeper.mails:
                    if mail.received >= since and to in mail.to:
                        return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no mail to {to} within {timeout:.0f} s")
                self._keeper.arrived.wait(left)
