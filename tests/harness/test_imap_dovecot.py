"""The harness's IMAP mailbox against a real IMAP server: Debian's Dovecot on loopback.

Until these tests, ``ImapMailbox`` had never met a real IMAP server. Here a private
Dovecot instance (its own config, sockets, state, log and Maildir in a temporary directory; the
system's /etc/dovecot and its service are never touched) serves one test user over IMAPS and
over STARTTLS with a self-signed certificate, and the mailbox is configured as a QA lead would
configure it (a portal TOML file, the login in environment variables) and used as the checks
use it:

- it finds the mail by recipient and subject (Japanese and English, RFC 2047 encoded in UTF-8
  or ISO-2022-JP), among mails to another recipient or with another subject, and mail that was
  in the INBOX before the mailbox opened (yesterday's code) is not taken for a new one;
- no such mail is its :class:`MailTimeout`, soon after the timeout;
- a wrong password, an untrusted certificate and a server that never answers are each a one-line
  :class:`DriverError`, in seconds, not a traceback or a hang.

Mail is delivered as an MDA delivers it: written into the user's ``Maildir/tmp`` and renamed
into ``Maildir/new``, behind Dovecot's back, so the mailbox must notice new mail by itself.
Without Dovecot (``apt-get install dovecot-imapd``; ``.ci/run`` installs it when it runs as
root) or openssl, or when not root (Dovecot switches to its own users), the tests skip and say
why.
"""

from __future__ import annotations

import email.header
import email.policy
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from itertools import count
from pathlib import Path

import pytest

from ninsho.conformance.config import ConfigError, PortalConfig, load
from ninsho.conformance.interfaces import DriverError, MailTimeout
from ninsho.conformance.mailboxes import ImapMailbox, mailbox_for
from ninsho.spec.registry import load_profile
from tests.web.support import free_port

pytestmark = pytest.mark.slow

DOVECOT = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
OPENSSL = shutil.which("openssl")
USER = "ninsho-qa"
PASSWORD = "dovecot-test-password-0123"
USER_ENV, PASSWORD_ENV = "NINSHO_DOVECOT_TEST_USER", "NINSHO_DOVECOT_TEST_PASSWORD"
START_SECONDS = 15.0  # Dovecot answers within a second on a quiet machine
STOP_SECONDS = 10.0
PROFILE = load_profile("iimc")
SUBJECT = PROFILE.mail_subject_otp  # "ワンタイムパスワードのお知らせ / Notification of one time password"
SENDER = PROFILE.mail_sender
_unique = count()


@dataclass(frozen=True)
class Dovecot:
    """A running private instance: where it listens, its CA, and the test user's Maildir."""

    root: Path
    starttls_port: int
    imaps_port: int
    ca_file: Path
    maildir: Path
    uid: int
    gid: int

    def deliver(self, raw: bytes) -> None:
        """What an MDA does: the whole mail in tmp/, then a rename into new/, so that Dovecot
        never sees half a mail; owned by the mail user, whom Dovecot's mail processes run as."""
        name = f"{time.time_ns()}.P{os.getpid()}Q{next(_unique)}.ninsho-test"
        temporary = self.maildir / "tmp" / name
        temporary.write_bytes(raw)
        os.chown(temporary, self.uid, self.gid)
        temporary.rename(self.maildir / "new" / name)

    def log(self) -> str:
        return (self.root / "dovecot.log").read_text(errors="replace")


def _config(root: Path, starttls_port: int, imaps_port: int, uid: int, gid: int) -> str:
    """Only what this instance needs; no ``!include`` of the system's conf.d. Dovecot's own
    users (dovecot, dovenull, from the package) run its auth and login processes; the mail
    runs as ``nobody``, since Dovecot refuses uid 0 for mail, even with first_valid_uid = 0.
    No auth penalty: after the wrong-password test it would delay every later login from
    127.0.0.1 (2 s, then doubling), so the tests' times would depend on their order."""
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
instance_name = ninsho-dovecot-test
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {starttls_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


def _greets(port: int) -> bool:
    """Ready is an IMAP greeting on the port, not merely a listening socket."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _tls_greets(port: int, ca_file: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=1.0) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
        ):
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if DOVECOT is None or OPENSSL is None:
        pytest.skip(
            "Dovecot or openssl is not installed (apt-get install dovecot-imapd openssl;"
            " .ci/run installs them when it runs as root with apt-get)"
        )
    if os.geteuid() != 0:
        pytest.skip(
            "starting Dovecot needs root: it runs its login and mail processes as its own users"
            " (.ci/run runs as root)"
        )
    # A short path: Dovecot's UNIX sockets live under base_dir, and a socket path has 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="ninsho-dovecot-"))
    try:
        root.chmod(0o755)  # Dovecot's login and auth processes run as its own users
        subprocess.run(
            [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"), "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        mail_user = pwd.getpwnam("nobody")
        uid, gid = mail_user.pw_uid, mail_user.pw_gid
        home = root / "home" / USER
        maildir = home / "Maildir"
        for part in ("cur", "new", "tmp"):
            (maildir / part).mkdir(parents=True)
        for path in (home, maildir, *(maildir / p for p in ("cur", "new", "tmp"))):
            os.chown(path, uid, gid)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}::\n")
        starttls_port = free_port()
        imaps_port = free_port()
        while imaps_port == starttls_port:
            imaps_port = free_port()
        conf = root / "dovecot.conf"
        conf.write_text(_config(root, starttls_port, imaps_port, uid, gid))
        server = Dovecot(root, starttls_port, imaps_port, root / "cert.pem", maildir, uid, gid)
        with (root / "stdout.log").open("wb") as out:
            # its own process group: the master and every child it forks are stopped together
            process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            deadline = time.monotonic() + START_SECONDS
            while not (_greets(starttls_port) and _tls_greets(imaps_port, server.ca_file)):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = (root / "stdout.log").read_text(errors="replace")
                    log = server.log() if (root / "dovecot.log").exists() else ""
                    pytest.fail(f"Dovecot did not start (exit {process.poll()}):\n{output}\n{log}")
                time.sleep(0.1)
            yield server
        finally:
            _stop(process)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group, then SIGKILL if Dovecot has not gone in STOP_SECONDS."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_SECONDS)
    except ProcessLookupError:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)


def _portal_config(
    tmp_path: Path, server: Dovecot, tls: str, *, ca_file: Path | None = None, port: int | None = None
) -> PortalConfig:
    """A portal config as a QA lead writes it for a deployed portal with a test mailbox."""
    if port is None:
        port = server.imaps_port if tls == "implicit" else server.starttls_port
    ca_line = f'ca_file = "{ca_file}"\n' if ca_file is not None else ""
    path = tmp_path / "portal.toml"
    path.write_text(
        '[portal]\nbase_url = "https://portal.example.test"\ndriver = "json"\n'
        '[accounts]\nprovision = "pool"\npool = ["qa0001"]\n'
        f'[mailbox]\nkind = "imap"\nhost = "127.0.0.1"\nport = {port}\ntls = "{tls}"\n{ca_line}'
        f'user_env = "{USER_ENV}"\npassword_env = "{PASSWORD_ENV}"\nquiet_seconds = 1\n',
        encoding="utf-8",
    )
    return load(path, environ={})  # no NINSHO_* of the outer run


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_ENV, USER)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def otp_mail(to: str, code: str, *, subject: str = SUBJECT, charset: str = "utf-8") -> bytes:
    """An OTP mail as a portal sends one; in ISO-2022-JP, as Japanese mailers still do."""
    body = f"ワンタイムパスワード / One time password: {code}\n"
    headers = {
        "From": f"ICT Support <{SENDER}>",
        "To": to,
        "Date": format_datetime(email.utils.localtime()),
        "Message-ID": make_msgid(domain="portal.example.test"),
    }
    if charset == "utf-8":
        message = EmailMessage()
        for key, value in headers.items():
            message[key] = value
        message["Subject"] = subject
        message.set_content(body)
        return message.as_bytes(policy=email.policy.SMTP)
    encoded = email.header.Header(subject, charset).encode(linesep="\r\n")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    mime = f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 7bit\r\n"
    return f"{head}Subject: {encoded}\r\n{mime}\r\n".encode("ascii") + body.encode(charset)


@pytest.mark.parametrize(("tls", "charset"), [("implicit", "utf-8"), ("starttls", "iso-2022-jp")])
@pytest.mark.usefixtures("login")
def test_finds_the_mail_by_recipient_and_time(
    dovecot: Dovecot, tmp_path: Path, tls: str, charset: str
) -> None:
    to = f"qa0001+{tls}@example.test"
    raw = otp_mail(to, "123456", charset=charset)
    assert b"=?" in raw and "ワンタイム".encode(charset) not in raw.split(b"\r\n\r\n")[0]  # RFC 2047
    dovecot.deliver(otp_mail(to, "111111", charset=charset))  # yesterday's code, already there
    mailbox = mailbox_for(_portal_config(tmp_path, dovecot, tls, ca_file=dovecot.ca_file), time.time)
    # after the first polls: the mailbox must notice mail that comes while it waits
    late = threading.Timer(1.2, dovecot.deliver, (raw,))
    try:
        assert isinstance(mailbox, ImapMailbox)
        since = time.time()
        dovecot.deliver(otp_mail(f"qa0002+{tls}@example.test", "222222", charset=charset))
        late.start()
        started = time.monotonic()
        mail = mailbox.wait_for(to, subject=SUBJECT, since=since, timeout=8)
        waited = time.monotonic() - started
    finally:
        late.cancel()
        late.join()
        mailbox.close()
    assert (mail.to, mail.sender, mail.subject, mail.code(6)) == (to, SENDER, SUBJECT, "123456")
    assert mail.received_at >= since
    assert 1.0 < waited < 4.0, waited
    # INBOX was examined read-only: nothing is marked \\Seen for the person who reads it later
    flagged = [p.name for p in (dovecot.maildir / "cur").iterdir() if ":2," in p.name]
    assert not any("S" in name.rsplit(":2,", 1)[1] for name in flagged), flagged


@pytest.mark.usefixtures("login")
def test_no_such_mail_is_a_mail_timeout_soon_after_the_timeout(dovecot: Dovecot, tmp_path: Path) -> None:
    to = "qa0003@example.test"
    mailbox = mailbox_for(_portal_config(tmp_path, dovecot, "implicit", ca_file=dovecot.ca_file), time.time)
    try:
        since = time.time()
        dovecot.deliver(otp_mail("qa0004@example.test", "444444"))
        started = time.monotonic()
        with pytest.raises(MailTimeout) as caught:
            mailbox.wait_for(to, subject=SUBJECT, since=since, timeout=1.5)
        waited = time.monotonic() - started
        # the quiet wait of "no mail was sent" ends in MailTimeout too, after quiet_seconds
        with pytest.raises(MailTimeout):
            mailbox.wait_for(to, subject=SUBJECT, since=since, timeout=mailbox.quiet_seconds)
    finally:
        mailbox.close()
    assert 1.5 <= waited < 3.0, waited
    assert mailbox.quiet_seconds == 1.0
    # the mail that did come, to another recipient, is named: a wrongly normalised address shows
    assert str(caught.value) == f"no mail to {to} within 1.5 s; mail came to qa0004@example.test"


@pytest.mark.usefixtures("login")
def test_a_mail_with_another_subject_is_found_not_awaited(dovecot: Dovecot, tmp_path: Path) -> None:
    """The subject is judged after the mail is found (conformance/mail_contract.py), never a
    filter: a portal's wrong subject is a FAIL of MAIL_SUBJECT_OTP, not a mail timeout."""
    to = "qa0005@example.test"
    mailbox = mailbox_for(_portal_config(tmp_path, dovecot, "implicit", ca_file=dovecot.ca_file), time.time)
    try:
        since = time.time()
        dovecot.deliver(otp_mail(to, "555555", subject="Notification of one time password"))
        mail = mailbox.wait_for(to, subject=SUBJECT, since=since, timeout=5)
    finally:
        mailbox.close()
    assert (mail.subject, mail.code(6)) == ("Notification of one time password", "555555")


def test_a_wrong_password_is_a_clear_error(
    dovecot: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dovecot answers a failed login after 2 s (auth_failure_delay): the error comes then."""
    monkeypatch.setenv(USER_ENV, USER)
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    config = _portal_config(tmp_path, dovecot, "starttls", ca_file=dovecot.ca_file)
    started = time.monotonic()
    with pytest.raises(DriverError) as caught:
        mailbox_for(config, time.time)
    assert time.monotonic() - started < 5.0
    assert type(caught.value) is DriverError
    port = config.mailbox_port
    assert str(caught.value) == (
        f"IMAP 127.0.0.1:{port}: login as {USER} refused: [AUTHENTICATIONFAILED] Authentication failed."
    )


@pytest.mark.usefixtures("login")
def test_a_self_signed_certificate_needs_ca_file(dovecot: Dovecot, tmp_path: Path) -> None:
    for tls in ("implicit", "starttls"):
        with pytest.raises(DriverError, match=r"certificate is not trusted .*\[mailbox\] ca_file"):
            mailbox_for(_portal_config(tmp_path, dovecot, tls), time.time)
    with pytest.raises(ConfigError, match=r"\[mailbox\.ca_file\] .* does not exist"):
        _portal_config(tmp_path, dovecot, "implicit", ca_file=tmp_path / "missing.pem")


def test_a_server_that_never_answers_is_an_error_not_a_hang() -> None:
    """A port that accepts and stays silent (a firewall, a wedged server): the socket timeout
    bounds the greeting. No Dovecot needed."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(DriverError, match=rf"IMAP 127.0.0.1:{port}: cannot connect: .*timed out"):
            ImapMailbox("127.0.0.1", port, USER, PASSWORD, time.time, tls="none", timeout_seconds=0.5)
        assert time.monotonic() - started < 2.0


@pytest.mark.usefixtures("login")
def test_a_dropped_connection_is_opened_again(dovecot: Dovecot, tmp_path: Path) -> None:
    """A server logs idle clients out (Dovecot after 30 min; here ``doveadm kick``, at once):
    the next wait opens the connection again instead of ending the run's mail."""
    doveadm = shutil.which("doveadm") or shutil.which("doveadm", path="/usr/bin:/usr/sbin")
    assert doveadm is not None  # dovecot-core ships it with dovecot
    to = "qa0004@example.test"
    login_line = f"Login: user=<{USER}>"
    logins = dovecot.log().count(login_line)
    mailbox = mailbox_for(_portal_config(tmp_path, dovecot, "implicit", ca_file=dovecot.ca_file), time.time)
    try:
        since = time.time()
        kicked = subprocess.run(
            [doveadm, "-c", str(dovecot.root / "dovecot.conf"), "kick", USER],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        assert kicked.returncode == 0, kicked.stderr
        dovecot.deliver(otp_mail(to, "555555"))
        mail = mailbox.wait_for(to, subject=SUBJECT, since=since, timeout=5)
    finally:
        mailbox.close()
    assert mail.code(6) == "555555"
    deadline = time.monotonic() + 2.0  # Dovecot's log process writes a moment later
    while dovecot.log().count(login_line) < logins + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dovecot.log().count(login_line) == logins + 2  # the first login and the second
