"""The mail contract (spec/protocol.md §14), judged part by part once a mail is found.

A mail is found by its recipient and its time (mailboxes.py); only then is it judged, and each
part is its own verdict: the sender [MAIL_SENDER], the subject [MAIL_SUBJECT_OTP] or
[MAIL_SUBJECT_RESET], the code's digits [EMAIL_OTP_DIGITS] or [RESET_CODE_DIGITS], the body
[MAIL_BODY_CODE] and the encoding [MAIL_ENCODING]. In link mode a mail to ``helpdesk.email`` is
the ICT Support Center's notice (§19.5), whose subject and body are [RESET_LINK_HELPDESK_MAIL]'s. Each broken part is reported through
``fail(requirement, message)`` and the check goes on with the mail, so that one wrong subject
is one FAIL of its requirement and not a timeout of every flow that reads a mail.

The code is read by the spec's rule, not by expecting exactly the profile's digits: the first
run of at least :data:`MIN_RUN` ASCII digits (or of the profile's digits, where that is fewer)
with no digit on either side. A 6-digit code where the profile says 8 is read, and FAILs the
digit count alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ninsho.conformance.interfaces import Mail
from ninsho.conformance.probes.mail_encoding import encoding_problems
from ninsho.spec.profile import Profile

MIN_RUN = 6  # §14: every run of six or more ASCII digits in the body is the code
_LINK = re.compile(r"https?://\S")  # §19.2: a reset mail of link mode carries a URL instead

Fail = Callable[[str, str], None]


@dataclass(frozen=True)
class Contract:
    """What one kind of mail must be: its subject and its code's digits, with their requirements."""

    kind: str  # "otp" (login and register), "reset", or "helpdesk" (link mode's notice to the center)
    subject: str
    subject_requirement: str
    digits: int
    digits_requirement: str


def contract_for(profile: Profile, subject: str, to: str = "") -> Contract:
    """The contract of the mail a caller expects, told by the subject it expects (and, for the
    ICT Support Center's notice of link mode, by its recipient)."""
    if profile.reset_mode == "link" and to.strip().lower() == profile.helpdesk_email.lower():
        return Contract("helpdesk", profile.mail_subject_reset, "RESET_LINK_HELPDESK_MAIL", 0, "")
    if subject == profile.mail_subject_reset:
        return Contract(
            "reset", subject, "MAIL_SUBJECT_RESET", profile.confirmation_code_digits, "RESET_CODE_DIGITS"
        )
    return Contract("otp", subject, "MAIL_SUBJECT_OTP", profile.email_otp_digits, "EMAIL_OTP_DIGITS")


def _runs(body: str, digits: int) -> list[str]:
    """The runs of digits the spec's rule reads as codes, in order (ASCII digits only)."""
    shortest = max(1, min(MIN_RUN, digits))
    return re.findall(rf"(?<![0-9])[0-9]{{{shortest},}}(?![0-9])", body)


def code_in_body(body: str, digits: int) -> str | None:
    """The code the body carries by §14's rule, whatever its length; None when there is none."""
    runs = _runs(body, digits)
    return runs[0] if runs else None


def judge_mail(mail: Mail, expected_subject: str, profile: Profile, fail: Fail) -> None:
    """Judge every part of ``mail`` against the contract of the mail the caller expected."""
    contract = contract_for(profile, expected_subject, mail.to)
    if mail.sender.strip().lower() != profile.mail_sender.lower():
        fail(
            "MAIL_SENDER",
            f"the mail to {mail.to} should come from {profile.mail_sender!r}; it came from {mail.sender!r}",
        )
    if mail.subject != contract.subject:
        fail(
            contract.subject_requirement,
            f"the mail to {mail.to} should have the subject {contract.subject!r}; it has {mail.subject!r}",
        )
    if contract.kind == "helpdesk":  # §19.5: whoever reads it must not be able to reset by it
        if _LINK.search(mail.body) is not None:
            fail("RESET_LINK_HELPDESK_MAIL", f"the notice to {mail.to} carries a link: {mail.body!r}")
        _judge_encoding(mail, fail)
        return
    if contract.kind == "reset" and profile.reset_mode == "link":  # §19.2: the link in place of the code
        if _LINK.search(mail.body) is None:
            fail("RESET_LINK_MAIL", f"the reset mail to {mail.to} carries no link in its body: {mail.body!r}")
        _judge_encoding(mail, fail)
        return
    runs = _runs(mail.body, contract.digits)
    if not runs:
        fail("MAIL_BODY_CODE", f"the mail to {mail.to} carries no code in its body: {mail.body!r}")
        return
    if len(runs[0]) != contract.digits:
        fail(
            contract.digits_requirement,
            f"the mailed code should have {contract.digits} digits; it has {len(runs[0])}",
        )
    if len(set(runs)) > 1:
        fail(
            "MAIL_BODY_CODE",
            f"the body holds {len(set(runs))} different runs of digits; only the code may stand so",
        )
    _judge_encoding(mail, fail)


def _judge_encoding(mail: Mail, fail: Fail) -> None:
    problems = encoding_problems(mail.raw, mail.subject) if mail.raw else []
    if problems:
        fail("MAIL_ENCODING", "; ".join(problems))
