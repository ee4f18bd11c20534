"""Mailboxes for deployed portals: an SMTP sink the harness runs, and IMAP for a real mailbox.

Mails are dated on arrival with the harness's *portal* clock, so that "the mail sent after this
action" compares times from one clock. A mail is matched by recipient and subject; the check
then judges its sender and body, so a wrong sender is a FAIL and not a timeout.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.interfaces import DriverError, Mail, MailTimeout

MAX_MESSAGE_BYTES = 1024 * 1024
POLL_SECONDS = 0.5


def parse_mail(raw: bytes, received_at: float, envelope_to: list[str] | None = None) -> list[Mail]:
    """One :class:`Mail` per recipient; the subject decoded (RFC 2047), the text body decoded."""
    message = email.message_from_bytes(raw[:MAX_MESSAGE_BYTES], policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    recipients = envelope_to or [a for _, a in getaddresses(message.get_all("to", []))]
    sender = parseaddr(str(message.get("from", "")))[1]
    subject = str(message.get("subject", ""))
    return [Mail(to, sender, subject, str(body), received_at) for to in recipients]


def _same_address(a: str, b: str) -> bool:
    local_a, _, domain_a = a.rpartition("@")
    local_b, _, domain_b = b.rpartition("@")
    return local_a == local_b and domain_a.lower() == domain_b.lower()


class _Collected:
    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.cond = threading.Condition()

    def add(self, mails: list[Mail]) -> None:
        with self.cond:
            self.mails.extend(mails)
            self.cond.notify_all()

    def wait_for(self, to: str, subject: str, since: float, timeout: float) -> Mail:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [
                    m
                    for m in self.mails
                    if _same_address(m.to, to) and m.subject == subject and m.received_at >= since
                ]
                if found:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise MailTimeout(
                        f"no mail to {to} with subject {subject!r} within {timeout:.0f} s"
                        + self._other_subjects(to, since)
                    )
                self.cond.wait(min(left, POLL_SECONDS))

    def _other_subjects(self, to: str, since: float) -> str:
        """A mail that came with another subject is the portal's departure, not a lost mail:
        name it, so the report shows it (the caller holds the lock)."""
        others = sorted({m.subject for m in self.mails if _same_address(m.to, to) and m.received_at >= since})
        return f"; mail to it came with the subject {', '.join(repr(s) for s in others)}" if others else ""


class SmtpSinkMailbox:
    """An SMTP server on loopback that the portal under test relays its mail to."""

    quiet_seconds = 2.0

    def __init__(self, host: str, port: int, clock: Callable[[], float]) -> None:
        if port == 0:
            raise DriverError(
                "the SMTP sink needs a concrete port ([mailbox] port), which the portal relays to"
            )
        self._clock = clock
        self._collected = _Collected()
        self._controller = Controller(self, hostname=host, port=port, data_size_limit=MAX_MESSAGE_BYTES)
        try:
            self._controller.start()
        except (OSError, RuntimeError) as exc:
            raise DriverError(f"the SMTP sink could not listen on {host}:{port}: {exc}") from None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        content = raw if isinstance(raw, bytes) else raw.encode("utf-8", "replace")
        self._collected.add(parse_mail(content, self._clock(), [str(r) for r in envelope.rcpt_tos]))
        return "250 OK"

    def wait_for(self, to: str, *, subject: str, since: float, timeout: float) -> Mail:
        return self._collected.wait_for(to, subject, since, timeout)

    def close(self) -> None:
        self._controller.stop()


class ImapMailbox:
    """A real test mailbox, polled over IMAP (TLS unless the host is loopback)."""

    quiet_seconds = 2.0

    def __init__(self, host: str, port: int, user: str, password: str, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._collected = _Collected()
        self._seen: set[bytes] = set()
        try:
            loopback = host in ("127.0.0.1", "::1", "localhost")
            self._imap = (imaplib.IMAP4 if loopback else imaplib.IMAP4_SSL)(
                host, port or (143 if loopback else 993)
            )
            self._imap.login(user, password)
            self._imap.select("INBOX")
        except (OSError, imaplib.IMAP4.error) as exc:
            raise DriverError(f"IMAP {host}:{port}: {exc}") from None

    def _poll(self) -> None:
        _, data = self._imap.search(None, "ALL")
        for number in (data[0] or b"").split():
            if number in self._seen:
                continue
            self._seen.add(number)
            _, parts = self._imap.fetch(number.decode("ascii"), "(RFC822)")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), b"")
            self._collected.add(parse_mail(raw, self._clock()))

    def wait_for(self, to: str, *, subject: str, since: float, timeout: float) -> Mail:
        deadline = time.monotonic() + timeout
        while True:
            self._poll()
            try:
                return self._collected.wait_for(to, subject, since, 0)
            except MailTimeout:
                if time.monotonic() >= deadline:
                    raise MailTimeout(
                        f"no mail to {to} with subject {subject!r} within {timeout:.0f} s"
                    ) from None
                time.sleep(POLL_SECONDS)

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self._imap.logout()


def mailbox_for(config: PortalConfig, now: Callable[[], float]) -> SmtpSinkMailbox | ImapMailbox:
    """The mailbox a portal config names ([mailbox] kind), for any driver's connection."""
    mailbox: SmtpSinkMailbox | ImapMailbox
    if config.mailbox == "imap":
        user = config.secret(config.mailbox_user_env, "mailbox.user_env")
        password = config.secret(config.mailbox_password_env, "mailbox.password_env")
        mailbox = ImapMailbox(config.mailbox_host, config.mailbox_port, user, password, now)
    else:
        mailbox = SmtpSinkMailbox(config.mailbox_host, config.mailbox_port, now)
    mailbox.quiet_seconds = config.mail_quiet_seconds
    return mailbox
