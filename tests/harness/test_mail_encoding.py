"""MAIL_ENCODING read from the wire: the reference's own mail passes, each way of mangling the
Japanese text is named (RFC 2047 §5, RFC 2045 §6)."""

from __future__ import annotations

from email.header import Header

import pytest

from ninsho.conformance.probes.mail_encoding import encoding_problems
from ninsho.reference.core.ports import OutgoingMail
from ninsho.reference.smtp import build_message
from ninsho.spec.registry import load_profile

SUBJECT = load_profile("iimc").mail_subject_otp  # Japanese and English
BODY = "ワンタイムパスワード / One-time password: 01234567\n"


def reference_mail() -> bytes:
    mail = OutgoingMail("taro@example.test", "ninsho-qa@iimc.kyoto-u.ac.jp", SUBJECT, BODY, purpose="login")
    return bytes(build_message(mail, now=1_700_000_000.0))


def test_the_reference_mail_arrives_intact() -> None:
    assert encoding_problems(reference_mail(), SUBJECT) == []


def test_a_subject_in_raw_utf8_bytes_is_named() -> None:
    raw = f"Subject: {SUBJECT}\nContent-Type: text/plain; charset=utf-8\n\nx\n".encode()
    assert encoding_problems(raw, SUBJECT) == [
        "the Subject header carries raw non-ASCII bytes, not RFC 2047 encoded-words"
    ]


def test_encoded_words_in_another_charset_are_named() -> None:
    """ISO-2022-JP is common in Japanese mail, and readers decode it; the spec asks for UTF-8."""
    words = Header(SUBJECT, "iso-2022-jp").encode()
    raw = f"Subject: {words}\nContent-Type: text/plain; charset=utf-8\n\nx\n".encode("ascii")
    assert encoding_problems(raw, SUBJECT) == ["the Subject's encoded-words use iso-2022-jp, not UTF-8"]


def test_encoded_words_that_do_not_decode_are_named_not_a_crash() -> None:
    raw = b"Subject: =?iso-2022-jp?b?GyRCJW8lcyU/JSQlYCVRJTklbyE8JUkkTiQqQ048JGkkOxsoQg==?=\n\nx\n"
    assert any("cannot be decoded" in p for p in encoding_problems(raw, SUBJECT))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"Content-Type: text/plain; charset=shift_jis\n\nx\n", "charset is 'shift_jis', not utf-8"),
        (b"Content-Type: text/html; charset=utf-8\n\n<p>x</p>\n", "no text/plain part"),
    ],
)
def test_a_body_that_is_not_utf8_text_is_named(body: bytes, expected: str) -> None:
    subject = bytes(
        build_message(OutgoingMail("a@b.c", "d@e.f", SUBJECT, BODY, purpose="login"), now=0.0)
    ).split(b"\n")
    header = next(line for line in subject if line.startswith(b"Subject:"))
    raw = header + b"\n" + body
    assert any(expected in p for p in encoding_problems(raw, SUBJECT))
