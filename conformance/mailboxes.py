"""Mailboxes for deployed portals: an SMTP sink the harness runs, and IMAP for a real mailbox.

Mails are dated on arrival with the harness's *portal* clock, so that "the mail sent after this
action" compares times from one clock. A mail is matched by its recipient and its time alone,
never by its subject or its code: the check then judges every part of it
(conformance/mail_contract.py), so a wrong subject or sender is a FAIL and not a timeout.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import errno
import imaplib
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.errors import LocalError
from ninsho.conformance.interfaces import DriverError, Mail, MailTimeout

MAX_MESSAGE_BYTES = 1024 * 1024
POLL_SECONDS = 0.5
SPOOL_POLL_SECONDS = 0.05  # how often a worker looks for mail the controller filed (SpoolMailbox)
IMAP_TIMEOUT_SECONDS = 10.0  # each IMAP command: a server that stops answering is an error, not a hang
IMAP_TLS = ("auto", "implicit", "starttls", "none")


def parse_mail(raw: bytes, received_at: float, envelope_to: list[str] | None = None) -> list[Mail]:
    """One :class:`Mail` per recipient; the subject decoded (RFC 2047), the text body decoded."""
    message = email.message_from_bytes(raw[:MAX_MESSAGE_BYTES], policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    recipients = envelope_to or [a for _, a in getaddresses(message.get_all("to", []))]
    sender = parseaddr(str(message.get("from", "")))[1]
    subject = str(message.get("subject", ""))
    return [Mail(to, sender, subject, str(body), received_at, raw=raw) for to in recipients]


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

    def wait_for(self, to: str, since: float, timeout: float, containing: str = "") -> Mail:
        """The newest mail to ``to`` received at or after ``since`` (whose body names ``containing``:
        :meth:`Mail.names`)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [
                    m
                    for m in self.mails
                    if _same_address(m.to, to) and m.received_at >= since and m.names(containing)
                ]
                if found:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise MailTimeout(f"no mail to {to} within {timeout:g} s" + self._elsewhere(since))
                self.cond.wait(min(left, POLL_SECONDS))

    def _elsewhere(self, since: float) -> str:
        """Mail that came in the meantime to other recipients, so that a mail sent to a wrongly
        normalised address shows in the report (the caller holds the lock)."""
        others = sorted({m.to for m in self.mails if m.received_at >= since})
        return f"; mail came to {', '.join(others)}" if others else ""


def _try_port(host: str, port: int) -> None:
    """Bind ``host:port`` and let go, as the sink's server will (address reuse on, as asyncio's)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


def _bind_failure(host: str, port: int, exc: BaseException) -> str:
    """Why the harness's own SMTP server could not start, in words: aiosmtpd wraps a bind
    failure in a RuntimeError whose text says little, and the cause is usually a port that
    another program (a second run, a local mail server) already holds."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
        why = "another program holds the port (another run, a mail server)"
    elif isinstance(cause, OSError) and cause.errno in (errno.EACCES, errno.EPERM):
        why = "this user may not listen on that port (ports below 1024 need privileges)"
    elif isinstance(cause, OSError) and cause.errno == errno.EADDRNOTAVAIL:
        why = f"{host} is not an address of this machine"
    else:
        why = str(cause or exc)
    return f"the harness's SMTP sink cannot listen on {host}:{port}: {why}; set another [mailbox] port"


class SmtpSinkMailbox:
    """An SMTP server on loopback that the portal under test relays its mail to."""

    quiet_seconds = 2.0

    def __init__(
        self, host: str, port: int, clock: Callable[[], float], *, spool: Path | None = None
    ) -> None:
        if port == 0:
            raise DriverError(
                "the SMTP sink needs a concrete port ([mailbox] port), which the portal relays to"
            )
        self._clock = clock
        self._collected = _Collected()
        self._spool = spool  # under pytest-xdist: every mail is filed there too, for the workers
        try:
            _try_port(host, port)  # at once: aiosmtpd reports a bind failure only after its 5 s timeout
        except OSError as exc:
            raise LocalError(_bind_failure(host, port, exc)) from None
        self._controller = Controller(self, hostname=host, port=port, data_size_limit=MAX_MESSAGE_BYTES)
        try:
            self._controller.start()
        except (OSError, RuntimeError) as exc:
            with contextlib.suppress(Exception):
                self._controller.loop.close()  # its thread ended without closing it
            raise LocalError(_bind_failure(host, port, exc)) from None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        content = raw if isinstance(raw, bytes) else raw.encode("utf-8", "replace")
        recipients = [str(r) for r in envelope.rcpt_tos]
        if self._spool is not None:
            file_mail(self._spool, content, recipients)
        self._collected.add(parse_mail(content, self._clock(), recipients))
        return "250 OK"

    def wait_for(self, to: str, *, subject: str | None = None, since: float, timeout: float) -> Mail:
        return self._collected.wait_for(to, since, timeout)

    def wait_for_containing(
        self, to: str, text: str, *, subject: str | None = None, since: float, timeout: float
    ) -> Mail:
        return self._collected.wait_for(to, since, timeout, text)

    def close(self) -> None:
        self._controller.stop()


def file_mail(spool: Path, raw: bytes, recipients: list[str]) -> None:
    """File one mail in ``spool`` for :class:`SpoolMailbox`: written aside, then renamed, so a
    reader never sees half a file. It carries the local time it arrived, not a portal time:
    each reader dates it on its own clock (the portal's time of the worker that reads it)."""
    document = {
        "arrived": time.time(),
        "to": recipients,
        "raw": base64.b64encode(raw).decode("ascii"),
    }
    name = f"{time.time_ns():020d}-{threading.get_ident()}"
    part = spool / f".{name}.part"
    part.write_text(json.dumps(document), "utf-8")
    os.replace(part, spool / f"{name}.json")


class SpoolMailbox:
    """The mail of a run on pytest-xdist's workers (conformance/distributed.py), read from the
    folder where the controller's SMTP sink files it (:func:`file_mail`): the portal relays to
    one port, which one process can hold. Every worker reads every mail; a check finds its own
    by recipient and time, as with the sink itself."""

    quiet_seconds = 2.0

    def __init__(self, spool: Path, clock: Callable[[], float]) -> None:
        self._spool = spool
        self._clock = clock
        self._collected = _Collected()
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="ninsho-mail-spool", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            self._scan()
            self._stop.wait(SPOOL_POLL_SECONDS)

    def _scan(self) -> None:
        with self._lock, contextlib.suppress(OSError):  # the controller removes the folder at its end
            for name in sorted(os.listdir(self._spool)):
                if name.endswith(".json") and name not in self._seen:
                    self._seen.add(name)
                    self._take(self._spool / name)

    def _take(self, path: Path) -> None:
        document = json.loads(path.read_text("utf-8"))
        age = max(0.0, time.time() - float(document["arrived"]))
        raw = base64.b64decode(document["raw"])
        self._collected.add(parse_mail(raw, self._clock() - age, list(document["to"])))

    def wait_for(self, to: str, *, subject: str | None = None, since: float, timeout: float) -> Mail:
        return self.wait_for_containing(to, "", subject=subject, since=since, timeout=timeout)

    def wait_for_containing(
        self, to: str, text: str, *, subject: str | None = None, since: float, timeout: float
    ) -> Mail:
        # At once, not at the reader's next look: a portal that relays before it answers has
        # filed the mail by now, and an older one must not pass for it, as with the sink itself.
        self._scan()
        return self._collected.wait_for(to, since, timeout, text)

    def close(self) -> None:
        self._stop.set()
        self._reader.join(timeout=1.0)


class ImapMailbox:
    """A real test mailbox, polled over IMAP.

    ``tls``: ``implicit`` (IMAPS, port 993), ``starttls`` (port 143, then STARTTLS) or ``none``;
    ``auto`` is none on a loopback host and implicit elsewhere. The server's certificate is
    verified, against ``ca_file`` when given (a test server's own certificate) or the system's
    CAs. INBOX is examined read-only, so the harness never marks the QA team's mail as read.

    Mail already in INBOX when the mailbox opens is from before the run (a pool account's code
    of yesterday has today's subject): it is skipped, never fetched. New mail is found by UID
    after a NOOP, since a server need not report new mail to a SEARCH alone (Dovecot does not),
    and is dated when a poll first sees it, so poll-to-poll is the precision of "since".
    """

    quiet_seconds = 2.0

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        clock: Callable[[], float],
        *,
        tls: str = "auto",
        ca_file: str | None = None,
        timeout_seconds: float = IMAP_TIMEOUT_SECONDS,
    ) -> None:
        if tls not in IMAP_TLS:
            raise DriverError(f"IMAP: tls must be one of {', '.join(IMAP_TLS)}, got {tls!r}")
        if tls == "auto":
            tls = "none" if host in ("127.0.0.1", "::1", "localhost") else "implicit"
        self._host, self._user, self._password, self._tls = host, user, password, tls
        self._port = port or (993 if tls == "implicit" else 143)
        self._where = f"IMAP {host}:{self._port}"
        self._timeout = timeout_seconds
        self._clock = clock
        self._collected = _Collected()
        self._last_uid = 0
        try:
            self._context = ssl.create_default_context(cafile=ca_file) if tls != "none" else None
        except (OSError, ssl.SSLError) as exc:
            raise DriverError(f"{self._where}: cannot read the CA file {ca_file}: {exc}") from None
        self._imap = self._connect()
        try:  # what is there now is from before the run
            self._last_uid = max(self._new_uids(), default=0)
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise DriverError(f"{self._where}: {_text(exc)}") from None

    def _connect(self) -> imaplib.IMAP4:
        """Logged in, INBOX examined; every failure a one-line :class:`DriverError`, with the
        socket closed (a half-open connection would leak)."""
        try:
            if self._tls == "implicit":
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    self._host, self._port, ssl_context=self._context, timeout=self._timeout
                )
            else:
                imap = imaplib.IMAP4(self._host, self._port, timeout=self._timeout)
        except ssl.SSLCertVerificationError as exc:
            raise DriverError(
                f"{self._where}: the server's certificate is not trusted ({exc.verify_message});"
                " for a test server's own certificate, name its CA in [mailbox] ca_file"
            ) from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise DriverError(f"{self._where}: cannot connect: {_text(exc)}") from None
        step = "STARTTLS"
        try:
            if self._context is not None and self._tls == "starttls":
                imap.starttls(self._context)
            step = f"login as {self._user}"
            imap.login(self._user, self._password)
            step = "EXAMINE INBOX"
            status, data = imap.select("INBOX", readonly=True)
            if status != "OK":
                raise imaplib.IMAP4.error(data[-1] if data else status)
        except ssl.SSLCertVerificationError as exc:
            _shutdown(imap)
            raise DriverError(
                f"{self._where}: STARTTLS: the server's certificate is not trusted"
                f" ({exc.verify_message}); for a test server's own certificate, name its CA in"
                " [mailbox] ca_file"
            ) from None
        except (OSError, imaplib.IMAP4.error) as exc:
            _shutdown(imap)
            raise DriverError(f"{self._where}: {step} refused: {_text(exc)}") from None
        return imap

    def _new_uids(self) -> list[int]:
        self._imap.noop()  # the poll: the server reports new mail in answer to it
        _, data = self._imap.uid("SEARCH", f"UID {self._last_uid + 1}:*")
        found = data[0] if data and isinstance(data[0], bytes) else b""
        # "n:*" always matches the newest mail, even when its UID is below n
        return sorted(uid for uid in map(int, found.split()) if uid > self._last_uid)

    def _poll(self) -> None:
        for uid in self._new_uids():
            _, parts = self._imap.uid("FETCH", str(uid), f"(BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>)")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), b"")
            self._collected.add(parse_mail(raw, self._clock()))
            self._last_uid = uid

    def _poll_or_reconnect(self) -> None:
        """One poll; a dropped connection (a server logs idle clients out) is opened again once."""
        try:
            self._poll()
            return
        except (OSError, imaplib.IMAP4.abort):
            _shutdown(self._imap)
        except imaplib.IMAP4.error as exc:
            raise DriverError(f"{self._where}: {_text(exc)}") from None
        self._imap = self._connect()
        try:
            self._poll()
        except (OSError, imaplib.IMAP4.error) as exc:
            raise DriverError(f"{self._where}: {_text(exc)}") from None

    def wait_for(self, to: str, *, subject: str | None = None, since: float, timeout: float) -> Mail:
        return self.wait_for_containing(to, "", subject=subject, since=since, timeout=timeout)

    def wait_for_containing(
        self, to: str, text: str, *, subject: str | None = None, since: float, timeout: float
    ) -> Mail:
        """Polls every :data:`POLL_SECONDS` until ``timeout``; each IMAP command is bounded by
        the socket timeout, so a silent server ends in a :class:`DriverError`, not a hang."""
        deadline = time.monotonic() + timeout
        while True:
            self._poll_or_reconnect()
            left = deadline - time.monotonic()
            with contextlib.suppress(MailTimeout):
                return self._collected.wait_for(to, since, 0, text)
            if left <= 0:
                with self._collected.cond:
                    others = self._collected._elsewhere(since)
                raise MailTimeout(f"no mail to {to} within {timeout:g} s{others}")
            time.sleep(min(left, POLL_SECONDS))

    def preflight(self) -> None:
        """The server answers and takes the login: before any check waits on it."""
        self._connect().logout()

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self._imap.logout()
        _shutdown(self._imap)


def _shutdown(imap: imaplib.IMAP4) -> None:
    """Close the socket whatever state the connection is in (``logout`` leaves it open when
    the LOGOUT itself fails); closing twice is harmless."""
    with contextlib.suppress(OSError):
        imap.shutdown()


def _text(exc: BaseException) -> str:
    """imaplib puts the server's bytes in its errors: ``[AUTHENTICATIONFAILED] ...``, not ``b'...'``."""
    arg = exc.args[0] if len(exc.args) == 1 else exc
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def mailbox_for(
    config: PortalConfig, now: Callable[[], float]
) -> SmtpSinkMailbox | ImapMailbox | SpoolMailbox:
    """The mailbox a portal config names ([mailbox] kind), for any driver's connection; on an
    xdist worker, the SMTP sink's mail from the controller's spool (``mail_spool_reader``)."""
    mailbox: SmtpSinkMailbox | ImapMailbox | SpoolMailbox
    if config.mail_spool is not None and config.mail_spool_reader:
        mailbox = SpoolMailbox(Path(config.mail_spool), now)
    elif config.mailbox == "imap":
        user = config.secret(config.mailbox_user_env, "mailbox.user_env")
        password = config.secret(config.mailbox_password_env, "mailbox.password_env")
        mailbox = ImapMailbox(
            config.mailbox_host,
            config.mailbox_port,
            user,
            password,
            now,
            tls=config.mailbox_tls,
            ca_file=config.mailbox_ca_file,
        )
    else:
        spool = Path(config.mail_spool) if config.mail_spool is not None else None
        mailbox = SmtpSinkMailbox(config.mailbox_host, config.mailbox_port, now, spool=spool)
    mailbox.quiet_seconds = config.mail_quiet_seconds
    return mailbox
