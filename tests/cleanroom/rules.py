"""Pure rules of the protocol: address normalisation, masking, code input, TOTP.

No I/O here, so that the vectors of spec/vectors/ can be checked against these functions
directly and the HTTP layer cannot change their outcome.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from base64 import b32encode
from dataclasses import dataclass
from urllib.parse import quote

import idna

# Unicode White_Space (protocol.md §13 step 1), listed explicitly: str.strip() also removes
# U+001C..U+001F, which are not White_Space.
WHITE_SPACE = frozenset(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_ENCODED = re.compile(r"=\?[^?]*\?[bBqQ]\?[^?]*\?=")  # RFC 2047 encoded-word
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DIGITS = re.compile(r"[0-9]+")


def strip_white_space(text: str) -> str:
    """Remove leading and trailing White_Space characters, and no others."""
    start, end = 0, len(text)
    while start < end and text[start] in WHITE_SPACE:
        start += 1
    while end > start and text[end - 1] in WHITE_SPACE:
        end -= 1
    return text[start:end]


@dataclass(frozen=True)
class AddressVerdict:
    """The outcome of §13: ``verdict`` is accepted, blocked or invalid."""

    verdict: str
    normalized: str | None = None
    requirement: str = "EMAIL_ADDRESS_NORMALIZATION"
    reason: str = ""


def _invalid(reason: str) -> AddressVerdict:
    return AddressVerdict("invalid", None, "EMAIL_ADDRESS_SYNTAX", reason)


def normalize_address(raw: str, blocked_domains: list[str], block_subdomains: bool) -> AddressVerdict:
    """Apply protocol.md §13 steps 1-6, in that order."""
    text = strip_white_space(raw)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in text):
        return _invalid("control or format character")
    text = unicodedata.normalize("NFKC", text)
    if text.count("@") != 1:
        return _invalid("not exactly one '@'")
    local, domain = text.split("@")
    if local.startswith('"'):
        return _invalid("quoted local part")
    if not (1 <= len(local) <= 64 and local.isascii() and _DOT_ATOM.fullmatch(local)):
        return _invalid("local part is not an ASCII dot-atom of 1-64 characters")
    if _ENCODED.search(local):
        return _invalid("local part holds an RFC 2047 encoded-word")
    if domain.endswith("."):
        domain = domain[:-1]
    domain = domain.lower()
    if not domain:
        return _invalid("empty domain")
    try:
        ascii_domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        return _invalid(f"IDNA: {exc}")
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LDH_LABEL.fullmatch(label) for label in labels):
        return _invalid("domain labels")
    if len(ascii_domain) > 253:
        return _invalid("domain longer than 253")
    address = f"{local}@{ascii_domain}"
    if len(address) > 254:
        return _invalid("address longer than 254")
    if ascii_domain in blocked_domains:
        return AddressVerdict("blocked", address, "EMAIL_BLOCKED_DOMAIN", "blocked domain")
    if block_subdomains and any(ascii_domain.endswith("." + entry) for entry in blocked_domains):
        return AddressVerdict("blocked", address, "EMAIL_BLOCKED_SUBDOMAIN", "under a blocked domain")
    return AddressVerdict("accepted", address)


def mask_address(address: str) -> str:
    """The masked form of §9.3: at most two leading characters, five asterisks, the domain."""
    local, _, domain = address.rpartition("@")
    keep = min(2, len(local) - 1)
    return f"{local[:keep]}*****@{domain}"


def read_code(raw: str, digits: int) -> str | None:
    """§12.1: NFKC, drop all white space, then exactly ``digits`` ASCII digits; None otherwise."""
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(ch for ch in text if ch not in WHITE_SPACE)
    if len(text) != digits or not text.isascii() or not _DIGITS.fullmatch(text):
        return None
    return text


def hotp(secret: bytes, counter: int, digits: int, algorithm: str = "SHA1") -> str:
    """RFC 4226 §5.3 with HMAC-``algorithm``; the counter is an unsigned 64-bit integer."""
    if not 0 <= counter < 2**64:
        raise ValueError("counter out of the 64-bit range")
    digest = hmac.new(secret, counter.to_bytes(8, "big"), getattr(hashlib, algorithm.lower())).digest()
    offset = digest[-1] & 0x0F
    binary = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def time_step(unix_time: float, period: int) -> int:
    """RFC 6238 T with T0 = 0; floor division so that it works beyond 2038."""
    return int(unix_time // period)


def totp_matches(
    secret: bytes, code: str, current_step: int, past: int, future: int, digits: int, algorithm: str
) -> list[int]:
    """Every step of the window whose TOTP equals ``code``, compared in constant time."""
    found = []
    for step in range(max(0, current_step - past), current_step + future + 1):
        if hmac.compare_digest(hotp(secret, step, digits, algorithm), code):
            found.append(step)
    return found


def base32_secret(secret: bytes) -> str:
    """RFC 4648 base32 without padding."""
    return b32encode(secret).decode("ascii").rstrip("=")


def provisioning_uri(
    issuer: str, login_id: str, secret: bytes, algorithm: str, digits: int, period: int
) -> str:
    """The Key Uri Format of §8 step 2, issuer and login ID percent-encoded (space as %20)."""
    enc_issuer = quote(issuer, safe="")
    label = f"{enc_issuer}:{quote(login_id, safe='')}"
    return (
        f"otpauth://totp/{label}?secret={base32_secret(secret)}&issuer={enc_issuer}"
        f"&algorithm={algorithm}&digits={digits}&period={period}"
    )
