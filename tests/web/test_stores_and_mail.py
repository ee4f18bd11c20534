"""The SQLite store (atomic across threads and processes, durable across reopen) and the
SMTP mailer (RFC 2047 subject, UTF-8 body, no header injection) on their own."""

from __future__ import annotations

import email.utils
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ninsho.reference.clocks import VirtualClock
from ninsho.reference.core.errors import Conflict, MailNotSent, UnknownAccount
from ninsho.reference.core.mail import compose
from ninsho.reference.core.ports import OutgoingMail
from ninsho.reference.core.state import AccountState, Purpose
from ninsho.reference.smtp import SmtpMailer
from ninsho.reference.stores.sqlite import SQLiteStore
from ninsho.spec.profile import Profile

from .support import REPO, SmtpSink, free_port


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "store.sqlite")
    yield s
    s.close()


def test_create_load_delete_and_conflict(store: SQLiteStore) -> None:
    store.create(AccountState("rita", "hash", addresses=["rita@example.org"]))
    loaded = store.load("rita")
    assert loaded is not None and loaded.addresses == ["rita@example.org"]
    with pytest.raises(Conflict):
        store.create(AccountState("rita", "other"))
    assert store.login_ids() == ["rita"]
    assert store.load("nobody") is None
    assert store.delete("rita") is True and store.delete("rita") is False


def test_transact_commits_or_rolls_back(store: SQLiteStore) -> None:
    store.create(AccountState("sam", "hash"))

    def fail(state: AccountState) -> None:
        state.failures = 99
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.transact("sam", fail)
    assert store.load("sam").failures == 0  # type: ignore[union-attr]

    def bump(state: AccountState) -> int:
        state.failures += 1
        return state.failures

    assert store.transact("sam", bump) == 1
    with pytest.raises(UnknownAccount):
        store.transact("nobody", bump)
    assert store.transact("sam", bump) == 2  # the connection is usable after a refusal


def test_settings_and_durability_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite"
    first = SQLiteStore(path)
    first.create(AccountState("tom", "hash"))
    first.transact("tom", lambda s: s.addresses.append("tom@example.org"))
    first.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    second = SQLiteStore(path)
    try:
        assert second.load("tom").addresses == ["tom@example.org"]  # type: ignore[union-attr]
        with second._connection() as db:
            assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
            assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    finally:
        second.close()


def test_transact_is_atomic_across_threads(store: SQLiteStore) -> None:
    store.create(AccountState("uma", "hash"))
    threads, rounds = 8, 40
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        for _ in range(rounds):
            store.transact("uma", lambda s: setattr(s, "failures", s.failures + 1))

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert store.load("uma").failures == threads * rounds  # type: ignore[union-attr]


WORKER = """
import sys
from ninsho.reference.stores.sqlite import SQLiteStore
store = SQLiteStore(sys.argv[1])
for _ in range(int(sys.argv[2])):
    store.transact("vic", lambda s: setattr(s, "failures", s.failures + 1))
store.close()
"""


def test_transact_is_atomic_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    store = SQLiteStore(path)
    store.create(AccountState("vic", "hash"))
    processes, rounds = 3, 60
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(rounds)], cwd=REPO)
        for _ in range(processes)
    ]
    for worker in workers:
        assert worker.wait(timeout=60) == 0
    assert store.load("vic").failures == processes * rounds  # type: ignore[union-attr]
    store.close()


# --- SMTP --------------------------------------------------------------------------------
@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    s = SmtpSink().start()
    yield s
    s.stop()


@pytest.mark.MAIL_ENCODING
def test_mail_is_encoded_as_the_contract_says(sink: SmtpSink, profile: Profile) -> None:
    clock = VirtualClock(1_800_000_000.0)
    mail = compose(profile, Purpose.RESET, "wendy@example.org", "01234567")
    SmtpMailer("127.0.0.1", sink.port, clock=clock).send(mail)
    received = sink.wait_for("wendy@example.org", count=1)
    assert received.mail_from == profile.mail_sender  # the envelope sender too [MAIL_SENDER]
    raw_headers = received.raw.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii() and b"=?utf-8?" in raw_headers  # RFC 2047 [MAIL_ENCODING]
    message = received.message
    assert message["From"] == profile.mail_sender
    assert message["To"] == "wendy@example.org"
    assert received.subject == profile.mail_subject_reset  # [MAIL_SUBJECT_RESET]
    assert message.get_content_charset() == "utf-8"
    # The body decodes to what the core composed, in the canonical CRLF form of text/plain.
    assert received.body == mail.body.replace("\n", "\r\n")
    assert received.code(profile.confirmation_code_digits) == "01234567"  # [MAIL_BODY_CODE]
    sent_at = email.utils.parsedate_to_datetime(message["Date"]).timestamp()
    assert sent_at == clock.now()
    assert message["Message-ID"].endswith("@" + profile.mail_sender.rpartition("@")[2] + ">")


@pytest.mark.parametrize("field", ["to", "sender", "subject"], ids=["to-crlf", "sender-crlf", "subject-crlf"])
def test_line_breaks_in_headers_are_refused(sink: SmtpSink, field: str) -> None:
    values = {"to": "x@example.org", "sender": "s@example.org", "subject": "Hello"}
    values[field] = values[field] + "\r\nBcc: attacker@example.org"
    mail = OutgoingMail(**values, body="code 12345678", purpose="login")
    with pytest.raises(MailNotSent) as refused:
        SmtpMailer("127.0.0.1", sink.port).send(mail)
    assert refused.value.requirement == "MAIL_HEADER_INJECTION"
    assert sink.received == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", "=?utf-8?b?YUBldmlsLmV4YW1wbGUsIGI=?=@example.org"),  # To: a@evil.example, b@...
        ("to", "=?utf-8?b?RXZlIDxldmlsQGV2aWwuZXhhbXBsZT4=?=@example.org"),  # Eve <evil@...>
        ("to", "x\tz@example.org"),
        ("to", "x\x7fz@example.org"),
        ("sender", "=?utf-8?q?ops?=@example.org"),
    ],
)
def test_no_address_header_is_ever_decoded(sink: SmtpSink, field: str, value: str) -> None:
    """The last line behind the normalisation (§13): a mailer never writes an address that a
    mail library would decode into others [MAIL_HEADER_INJECTION]."""
    values = {"to": "x@example.org", "sender": "s@example.org", "subject": "Hello", field: value}
    with pytest.raises(MailNotSent) as refused:
        SmtpMailer("127.0.0.1", sink.port).send(OutgoingMail(**values, body="code 12345678", purpose="login"))
    assert refused.value.requirement == "MAIL_HEADER_INJECTION"
    assert sink.received == []


def test_unreachable_relay_is_mail_not_sent(profile: Profile) -> None:
    mail = compose(profile, Purpose.LOGIN, "xena@example.org", "12345678")
    with pytest.raises(MailNotSent) as refused:
        SmtpMailer("127.0.0.1", free_port(), timeout=2).send(mail)
    assert refused.value.status_hint == 503
    assert refused.value.message_ja and refused.value.message_en
