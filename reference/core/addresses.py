"""The address for email-authentication: normalisation and the blocked-domain rule.

The rules are those of spec/protocol.md ("Address normalisation") and the cases of
``spec/vectors/addresses.toml``. The order matters: strip, refuse invisible and control
characters, fold with NFKC, split, then compare domains in their IDNA A-label form. Comparing
after folding is what makes ``USER@ＫＹＯＴＯ－Ｕ.AC.JP.`` blocked, and comparing whole labels is
what keeps ``notkyoto-u.ac.jp`` accepted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

import idna

from .errors import BlockedAddress, InvalidAddress

MAX_INPUT_CHARS = 1024
_ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# RFC 2047 §2: "=?" charset "?" encoding "?" encoded-text "?=", as mail readers find one.
ENCODED_WORD = re.compile(r"=\?[^?]*\?[bBqQ]\?[^?]*\?=")
# Unicode White_Space (PropList.txt), the only characters stripped from the ends. Not
# ``str.strip()``: it also strips U+001C-U+001F, which are Cc and must be refused.
WHITE_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


class Verdict(Enum):
    ACCEPTED = "accepted"
    BLOCKED = "blocked"
    INVALID = "invalid"


@dataclass(frozen=True)
class Address:
    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"


def _invalid(why_en: str, why_ja: str) -> InvalidAddress:
    return InvalidAddress(
        f"The address is not valid: {why_en}", f"アドレスが正しくありません: {why_ja}", field="address"
    )


def normalize(raw: str) -> Address:
    """The canonical form of ``raw``, or :class:`InvalidAddress` saying what is wrong."""
    if not isinstance(raw, str):
        raise _invalid("it is not text", "文字列ではありません")
    if len(raw) > MAX_INPUT_CHARS:
        raise _invalid("it is too long", "長すぎます")
    text = raw.strip(WHITE_SPACE)
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise _invalid(
                f"it contains the invisible or control character U+{ord(char):04X}",
                f"見えない文字または制御文字 U+{ord(char):04X} が含まれています",
            )
    text = unicodedata.normalize("NFKC", text)
    if not text:
        raise _invalid("it is empty", "空です")
    if text.startswith('"'):
        raise _invalid("quoted local parts are not accepted", "引用符付きのローカル部は使えません")
    if text.count("@") != 1:
        raise _invalid("it must contain exactly one '@'", "「@」はちょうど1つ必要です")
    local, domain = text.split("@")
    if not (1 <= len(local) <= 64) or not _ATEXT.match(local):
        raise _invalid("the part before '@' is not a valid mailbox name", "「@」の前の部分が正しくありません")
    if ENCODED_WORD.search(local):  # a mail library would decode it into the To header
        raise _invalid(
            "the part before '@' holds an encoded word (=?…?=)",
            "「@」の前の部分にエンコードされた語（=?…?=）が含まれています",
        )
    address = Address(local, _normalize_domain(domain))
    if len(str(address)) > 254:
        raise _invalid("it is longer than 254 characters", "254文字を超えています")
    return address


def _normalize_domain(domain: str) -> str:
    domain = domain[:-1] if domain.endswith(".") else domain
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise _invalid("the domain is not a valid host name", "ドメインが正しくありません") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _invalid("the domain is not a valid host name", "ドメインが正しくありません")
    return ascii_domain


def is_blocked(address: Address, blocked_domains: tuple[str, ...], *, subdomains: bool) -> bool:
    """Whole-label comparison: equal, or (if ``subdomains``) a suffix after a dot."""
    return any(
        address.domain == blocked or (subdomains and address.domain.endswith("." + blocked))
        for blocked in blocked_domains
    )


def check(raw: str, blocked_domains: tuple[str, ...], *, subdomains: bool) -> Address:
    """Normalise and apply the blocked-domain rule [EMAIL_BLOCKED_DOMAIN]."""
    address = normalize(raw)
    if is_blocked(address, blocked_domains, subdomains=subdomains):
        exact = address.domain in blocked_domains
        raise blocked(address.domain, "EMAIL_BLOCKED_DOMAIN" if exact else "EMAIL_BLOCKED_SUBDOMAIN")
    return address


def blocked(domain: str, requirement: str) -> BlockedAddress:
    """The refusal of an address in a blocked domain, in both languages: the faulty portals of
    reference/faults.py refuse in the same words, so a page reader classes their refusals too."""
    return BlockedAddress(
        f"Addresses at {domain} cannot be registered. Please enter a private email address.",
        f"{domain} のアドレスは登録できません。プライベートなアドレスを入力してください。",
        requirement=requirement,
        field="address",
    )


def verdict(raw: str, blocked_domains: tuple[str, ...], *, subdomains: bool) -> Verdict:
    try:
        check(raw, blocked_domains, subdomains=subdomains)
    except BlockedAddress:
        return Verdict.BLOCKED
    except InvalidAddress:
        return Verdict.INVALID
    return Verdict.ACCEPTED


def mask(address: str) -> str:
    """The reset screen's masked form [RESET_ADDRESS_MASKED]: at most two leading characters of
    the local part, never all of it, then five asterisks and the domain (``ta*****@gmail.com``,
    ``a*****@example.jp``). Same shape as the placeholder ``id*****@mail2.adm.kyoto-u.ac.jp``.
    """
    local, _, domain = address.rpartition("@")
    return f"{local[: min(2, len(local) - 1)]}*****@{domain}"
