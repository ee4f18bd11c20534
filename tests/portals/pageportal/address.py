"""Address normalisation exactly as protocol.md §13: strip, refuse Cc/Cf, NFKC, split, IDNA."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import idna

# Unicode White_Space, and nothing else (str.strip() would also eat U+001C-U+001F).
WHITE_SPACE = frozenset(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_ENCODED = re.compile(r"=\?[^?]*\?[bBqQ]\?[^?]*\?=")  # RFC 2047 encoded-word
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

Verdict = Literal["accepted", "blocked", "invalid"]


@dataclass(frozen=True)
class Checked:
    """The verdict on one submitted address and, unless invalid, its normalised form."""

    verdict: Verdict
    address: str | None = None
    reason: str = ""


def strip_white_space(text: str) -> str:
    """Remove leading and trailing White_Space characters only."""
    start, end = 0, len(text)
    while start < end and text[start] in WHITE_SPACE:
        start += 1
    while end > start and text[end - 1] in WHITE_SPACE:
        end -= 1
    return text[start:end]


def _domain(raw: str) -> str | None:
    """Step 5: the A-label form of a domain, or None when it is not a valid host name."""
    if raw.endswith("."):
        raw = raw[:-1]
    if not raw:
        return None
    try:
        domain = idna.encode(raw.lower(), uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253:
        return None
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return domain


def check_address(text: str, blocked: tuple[str, ...], block_subdomains: bool) -> Checked:
    """Normalise a typed address and give its verdict against the blocked domains."""
    text = strip_white_space(text)
    if not text:
        return Checked("invalid", reason="empty")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        return Checked("invalid", reason="control or format character")
    text = unicodedata.normalize("NFKC", text)
    if text.count("@") != 1:
        return Checked("invalid", reason="exactly one @ is needed")
    local, raw_domain = text.split("@")
    if local.startswith('"') or len(local) > 64 or not _DOT_ATOM.fullmatch(local) or _ENCODED.search(local):
        return Checked("invalid", reason="local part")
    domain = _domain(raw_domain)
    if domain is None:
        return Checked("invalid", reason="domain")
    address = f"{local}@{domain}"
    if len(address) > 254:
        return Checked("invalid", reason="too long")
    for entry in blocked:
        if domain == entry or (block_subdomains and domain.endswith("." + entry)):
            return Checked("blocked", address)
    return Checked("accepted", address)


def mask(address: str) -> str:
    """§9.3 masking: at most two leading characters of the local part, then five asterisks."""
    local, _, domain = address.rpartition("@")
    keep = max(0, min(2, len(local) - 1))
    return f"{local[:keep]}*****@{domain}"
