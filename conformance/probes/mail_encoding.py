"""How a mail is encoded on the wire [MAIL_ENCODING]: what arrives intact in any mail reader.

The subjects and bodies are Japanese and English. RFC 2047 §5 lets a header carry non-ASCII text
only as encoded-words, and RFC 2045 §6 names the body's charset; a portal that sends raw UTF-8
in a header, or a body in Shift_JIS without saying so, shows mojibake in some reader. This reads
the mail as it was received, before any decoding the mailbox did.
"""

from __future__ import annotations

import email
import email.policy
from email.header import decode_header, make_header
from email.message import Message


def encoding_problems(raw: bytes, subject: str) -> list[str]:
    """What is wrong with the wire form of a mail whose subject should read ``subject``."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)  # headers as sent
    problems: list[str] = []
    sent = message.get("Subject", "")
    if not isinstance(sent, str):  # compat32 hands back a Header for bytes it cannot read
        sent = str(sent)
    folded = "".join(sent.splitlines())
    if not folded.isascii():
        problems.append("the Subject header carries raw non-ASCII bytes, not RFC 2047 encoded-words")
    elif subject and not subject.isascii() and "=?" not in folded:
        problems.append("the Subject header holds no encoded-words for its Japanese text")
    else:
        problems += _subject_problems(folded, subject)
    body = _text_part(message)
    if body is None:
        problems.append("the mail has no text/plain part")
    elif (body.get_content_charset() or "").lower() != "utf-8":
        problems.append(f"the text/plain body's charset is {body.get_content_charset()!r}, not utf-8")
    return problems


def _subject_problems(folded: str, subject: str) -> list[str]:
    try:
        words = decode_header(folded)
        decoded = str(make_header(words))
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        return [f"the Subject's encoded-words cannot be decoded: {exc}"]
    problems = []
    charsets = {(charset or "").lower() for _, charset in words if charset}
    if charsets - {"utf-8"}:
        problems.append(f"the Subject's encoded-words use {', '.join(sorted(charsets))}, not UTF-8")
    if decoded != subject:
        problems.append(f"the Subject decodes to {decoded!r}, not {subject!r}")
    return problems


def _text_part(message: Message) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part
    return None
