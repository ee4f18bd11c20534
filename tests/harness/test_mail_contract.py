"""The mail is found, then judged (spec/protocol.md §14): found by recipient and time over real
SMTP, whatever its subject; then each part of it is one verdict, and the check goes on.

The faults ``wrong-mail-subject`` and ``wrong-code-digits`` run the whole suite in process
(tests/harness/test_faulty_portals.py) and over HTTP (tests/harness/test_error_names_http.py);
these tests hold the pieces: the reading rule, the judging, and how a soft failure becomes a
verdict beside the check's own.
"""

from __future__ import annotations

import re
import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from ninsho.conformance.actions import read_mail_naming, stray_mail
from ninsho.conformance.errors import MailTimeout, RequirementFailed
from ninsho.conformance.interfaces import Mail
from ninsho.conformance.mail_contract import code_in_body, judge_mail
from ninsho.conformance.mailboxes import SmtpSinkMailbox
from ninsho.conformance.results import verdicts_for
from ninsho.conformance.transcript import RecordingMailbox, Transcript
from ninsho.conformance.verdicts import Verdict
from ninsho.reference.core.ports import OutgoingMail
from ninsho.reference.smtp import build_message
from ninsho.spec.registry import load_profile, requirements
from tests.web.support import free_port

PROFILE = load_profile("iimc")
BODY = "ワンタイムパスワード: {code}\n有効期限: 10分\n\nOne-time password: {code}\nValid for 10 minutes.\n"


def mail(subject: str = PROFILE.mail_subject_otp, code: str = "01234567", *, sender: str = "") -> Mail:
    """A mail as the reference's SMTP edge builds it, with its wire form for MAIL_ENCODING."""
    outgoing = OutgoingMail(
        "taro@example.test", sender or PROFILE.mail_sender, subject, BODY.format(code=code), purpose="login"
    )
    raw = bytes(build_message(outgoing, now=1_700_000_000.0))
    return Mail(outgoing.to, outgoing.sender, subject, outgoing.body, 0.0, raw=raw)


def judged(found: Mail, expected: str = PROFILE.mail_subject_otp) -> list[tuple[str, str]]:
    failures: list[tuple[str, str]] = []
    judge_mail(found, expected, PROFILE, lambda rid, why: failures.append((rid, why)))
    return failures


def test_a_mail_that_keeps_the_contract_is_judged_clean() -> None:
    assert judged(mail()) == []


def test_a_wrong_subject_fails_only_the_subject() -> None:
    assert [rid for rid, _ in judged(mail("Notification of one time password"))] == ["MAIL_SUBJECT_OTP"]


def test_a_reset_mail_is_judged_by_the_reset_contract() -> None:
    reset = mail(PROFILE.mail_subject_reset, "7654321")
    assert [rid for rid, _ in judged(reset, PROFILE.mail_subject_reset)] == ["RESET_CODE_DIGITS"]
    assert [rid for rid, _ in judged(mail(), PROFILE.mail_subject_reset)] == ["MAIL_SUBJECT_RESET"]


def test_the_centers_notice_is_judged_by_its_own_contract() -> None:
    """Link mode (§19.5): a mail to helpdesk.email is the ICT Support Center's notice, with the
    reset subject, no link and no code; as the reference composes it, it keeps that contract."""
    from ninsho.conformance.probes.reset_link import notice_problems
    from ninsho.reference.core.mail import compose_helpdesk_notice

    link_mode = load_profile("iimc-2021")
    outgoing = compose_helpdesk_notice(link_mode, link_mode.helpdesk_email, "a0123456")
    raw = bytes(build_message(outgoing, now=1_700_000_000.0))
    notice = Mail(outgoing.to, outgoing.sender, outgoing.subject, outgoing.body, 0.0, raw=raw)
    failures: list[tuple[str, str]] = []
    judge_mail(notice, link_mode.mail_subject_reset, link_mode, lambda rid, why: failures.append((rid, why)))
    assert failures == [] and notice_problems(notice, "a0123456") == []
    with_link = Mail(
        notice.to, notice.sender, notice.subject, "a0123456 https://portal.test/reset/link?token=x", 0
    )
    judge_mail(
        with_link, link_mode.mail_subject_reset, link_mode, lambda rid, why: failures.append((rid, why))
    )
    assert [rid for rid, _ in failures] == ["RESET_LINK_HELPDESK_MAIL"]
    assert len(notice_problems(with_link, "a0123456")) == 1
    assert notice_problems(Mail(notice.to, "", "", "code 87654321 for someone", 0), "a0123456") == [
        "it does not name the account 'a0123456'",
        "it carries a run of six or more digits, which a reader takes for a code",
    ]


def test_a_login_id_is_named_as_a_word_of_its_own() -> None:
    """A notice for user10 does not name user1 (nor one for nsh-taro taro): else user1's check
    would judge user10's notice as its own, and pass it."""
    from ninsho.conformance.probes.reset_link import notice_problems

    for body in ("reset asked for user10.", "ユーザーuser10さん", "id=nsh-user1", "user1_x"):
        assert not Mail("c@example.test", "", "", body, 0).names("user1"), body
    for body in ("reset asked for user1.", "ユーザーuser1さん", "(user1)", "ID:user1\n", "user1"):
        assert Mail("c@example.test", "", "", body, 0).names("user1"), body
    assert notice_problems(Mail("c@example.test", "", "", "reset asked for user10", 0), "user1") == [
        "it does not name the account 'user1'"
    ]


def test_a_six_digit_code_is_read_and_fails_only_its_digit_count() -> None:
    six = mail(code="123456")
    assert code_in_body(six.body, PROFILE.email_otp_digits) == "123456"
    failures = judged(six)
    assert [rid for rid, _ in failures] == ["EMAIL_OTP_DIGITS"]
    assert "8 digits; it has 6" in failures[0][1]


def test_a_wrong_sender_fails_only_the_sender() -> None:
    assert [rid for rid, _ in judged(mail(sender="noreply@example.test"))] == ["MAIL_SENDER"]


def test_other_runs_of_digits_in_the_body_fail_the_body() -> None:
    """§14: every run of six or more digits is the code, so a reader can take the first."""
    other = Mail(
        "taro@example.test", PROFILE.mail_sender, PROFILE.mail_subject_otp, "ref 20261202\ncode 01234567\n", 0
    )
    assert code_in_body(other.body, 8) == "20261202"
    assert [rid for rid, _ in judged(other)] == ["MAIL_BODY_CODE"]


def test_a_mail_without_a_code_fails_the_body() -> None:
    bare = Mail("taro@example.test", PROFILE.mail_sender, PROFILE.mail_subject_otp, "Your code: 12345\n", 0)
    assert code_in_body(bare.body, 8) is None
    assert [rid for rid, _ in judged(bare)] == ["MAIL_BODY_CODE"]


@pytest.fixture
def sink() -> Iterator[SmtpSinkMailbox]:
    mailbox = SmtpSinkMailbox("127.0.0.1", free_port(), time.time)
    try:
        yield mailbox
    finally:
        mailbox.close()


def send(sink: SmtpSinkMailbox, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = PROFILE.mail_sender, to, subject
    message.set_content(body)
    host, port = sink._controller.hostname, sink._controller.port
    with smtplib.SMTP(host, port, timeout=10) as client:
        client.send_message(message)


def test_the_sink_finds_a_mail_by_recipient_and_time_whatever_its_subject(sink: SmtpSinkMailbox) -> None:
    """A wrong subject is a FAIL of MAIL_SUBJECT_OTP, not a timeout: the mail is found, judged,
    and the check reads its code."""
    since = time.time()
    send(sink, "hanako@example.test", "Notification of one time password", BODY.format(code="01234567"))
    transcript = Transcript()
    inbox = RecordingMailbox(sink, transcript, timeout_seconds=5, profile=PROFILE)
    found = inbox.wait_for("hanako@example.test", subject=PROFILE.mail_subject_otp, since=since, timeout=5)
    assert found.subject == "Notification of one time password"
    assert [f.requirement for f in transcript.soft_failures] == ["MAIL_SUBJECT_OTP"]
    with pytest.raises(MailTimeout, match=re.escape("no mail to jiro@example.test")):
        sink.wait_for("jiro@example.test", since=since, timeout=0.5)
    later = time.time() + 60
    with pytest.raises(MailTimeout):  # a mail from before ``since`` is not the one asked for
        sink.wait_for("hanako@example.test", since=later, timeout=0.2)


def test_a_soft_failure_fails_its_requirement_beside_the_checks_verdicts() -> None:
    registry = requirements()
    marked = ["EMAIL_OTP_LIFETIME", "MAIL_SENDER"]
    soft = [RequirementFailed("MAIL_SUBJECT_OTP", "subject 'x'"), RequirementFailed("MAIL_SENDER", "from y")]
    verdicts = {r.requirement: r.verdict for r in verdicts_for("check", marked, registry, None, soft)}
    assert verdicts == {
        "EMAIL_OTP_LIFETIME": Verdict.PASS,
        "MAIL_SENDER": Verdict.FAIL,  # replaces the PASS the check's own outcome gave
        "MAIL_SUBJECT_OTP": Verdict.FAIL,  # a line of its own: the check is not marked with it
    }


def test_a_soft_failure_outranks_an_error_but_leaves_a_hard_fail_as_it_is() -> None:
    registry = requirements()
    marked = ["EMAIL_OTP_LIFETIME", "MAIL_SUBJECT_OTP"]
    soft = [RequirementFailed("MAIL_SUBJECT_OTP", "subject 'x'")]
    crashed = {
        r.requirement: r for r in verdicts_for("check", marked, registry, MailTimeout("no mail"), soft)
    }
    assert crashed["EMAIL_OTP_LIFETIME"].verdict is Verdict.ERROR
    assert crashed["MAIL_SUBJECT_OTP"].verdict is Verdict.FAIL
    hard = RequirementFailed("MAIL_SUBJECT_OTP", "the check's own")
    failed = {r.requirement: r for r in verdicts_for("check", marked, registry, hard, soft)}
    assert failed["MAIL_SUBJECT_OTP"].reason == "[MAIL_SUBJECT_OTP] the check's own"


class NewestOnly:
    """A vendor's mailbox with ``wait_for`` alone (``wait_for_containing`` is optional)."""

    def __init__(self, inner: SmtpSinkMailbox) -> None:
        self.inner = inner

    def wait_for(self, to: str, *, subject: str | None = None, since: float, timeout: float) -> Mail:
        return self.inner.wait_for(to, subject=subject, since=since, timeout=timeout)


def test_each_check_finds_the_centers_notice_that_names_its_account(sink: SmtpSinkMailbox) -> None:
    """Checks running at once click "初期化" for two accounts, and both notices go to the one
    center: each check reads its own, the older one too, where the mailbox can look by text;
    a mailbox that cannot gives the newest, which the check then judges (or calls inconclusive)."""
    since = time.time()
    center, subject = PROFILE.helpdesk_email, PROFILE.mail_subject_reset
    send(sink, center, subject, "A reset was asked for the account nsh-taro.")
    send(sink, center, subject, "A reset was asked for the account nsh-hana.")
    inbox = RecordingMailbox(sink, Transcript(), timeout_seconds=5)
    for mailbox in (sink, inbox):
        assert "nsh-taro" in read_mail_naming(mailbox, center, "nsh-taro", subject, since, 5).body
        assert "nsh-hana" in read_mail_naming(mailbox, center, "nsh-hana", subject, since, 5).body
        # none names the account: the newest, to be judged as "does not name the account"
        assert "nsh-hana" in read_mail_naming(mailbox, center, "nsh-jiro", subject, since, 0.2).body
        assert stray_mail(mailbox, center, subject, since, naming="nsh-taro") is not None
    for mailbox in (NewestOnly(sink), RecordingMailbox(NewestOnly(sink), Transcript(), timeout_seconds=5)):
        assert "nsh-hana" in read_mail_naming(mailbox, center, "nsh-taro", subject, since, 5).body
    # user1's check waits for user1's notice, though user10's names "user1" as a substring
    send(sink, center, subject, "A reset was asked for the account user10.")
    with pytest.raises(MailTimeout):
        sink.wait_for_containing(center, "user1", subject=subject, since=since, timeout=0.2)
    send(sink, center, subject, "A reset was asked for the account user1.")
    assert read_mail_naming(sink, center, "user1", subject, since, 5).body.strip().endswith("user1.")
    with pytest.raises(MailTimeout):
        read_mail_naming(sink, "nobody@example.test", "nsh-taro", subject, since, 0.2)
    assert stray_mail(sink, "nobody@example.test", subject, since, naming="nsh-taro") is None
