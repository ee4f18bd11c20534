"""Reading values off a screen: the value after a label, the address in a notice, a masked address.

These read the page's lines (:attr:`~.page.Page.blocks`), as a person reads "Registered address:
a***@example.com" or "a@example.com へメールを送信しました。", whatever the markup around them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from ninsho.conformance.drivers.html.sitemap import Wording
from ninsho.conformance.drivers.html.text import squash

_ADDRESS = re.compile(r"\S*@\S+")


def _norm(text: str) -> str:
    return squash(unicodedata.normalize("NFKC", text))


def _labels(wording: Wording) -> list[str]:
    """The label's texts, whole and by halves, longest first (so the bilingual whole wins)."""
    parts: list[str] = []
    for text in wording.texts:
        parts.append(_norm(text.replace("\n", " ")))
        parts += [_norm(p) for p in re.split(r"\n|\s/\s", text)]
    return sorted({p for p in parts if p}, key=len, reverse=True)


def value_after(blocks: Sequence[str], wording: Wording, *, address: bool = False) -> str | None:
    """The value shown after a label: on its line after it (and after its other half, as in
    "ログインID: / Login ID: taro"), else the next line. A line that starts with the label is
    preferred to one that only contains it. ``address`` takes the first token with an "@"."""
    lines = [_norm(b) for b in blocks]
    labels = _labels(wording)
    for starts in (True, False):
        for i, line in enumerate(lines):
            found = [(line.casefold().find(label.casefold()), label) for label in labels]
            ends = [(at + len(label), at) for at, label in found if at >= 0]
            ends += [(m.end(), m.start()) for p in wording.patterns if (m := p.search(line))]
            for end, at in sorted(ends, key=lambda e: e[1]):
                if starts and at > 0:
                    continue
                rest = _past_label(line[end:], labels)
                following = lines[i + 1] if not rest and i + 1 < len(lines) else ""
                value = _token(rest, address) or _token(following, address)
                if value:
                    return value
    return None


def _past_label(rest: str, labels: Sequence[str]) -> str:
    """What follows a label and its other half ("ログインID: / Login ID: taro" → "taro")."""
    rest = rest.lstrip(" :：/")
    for label in labels:
        if rest.casefold().startswith(label.casefold()):
            return _past_label(rest[len(label) :], labels)
    return rest


def _token(text: str, address: bool) -> str | None:
    if address:
        found = _ADDRESS.search(text)
        return found.group(0).strip("「」()（）\"'.,。、") if found else None
    words = text.split()
    return words[0] if words else None


def _loose(text: str) -> str:
    """A literal text as a regex in which any run of white space matches any other (or none)."""
    return r"\s*".join(re.escape(word) for word in text.split())


def notice_value(blocks: Sequence[str], templates: Iterable[str]) -> str | None:
    """The address a notice names ("{address} へメールを送信しました。"), by either half."""
    text = " ".join(_norm(b) for b in blocks)
    for template in templates:
        for half in re.split(r"\s/\s", template):
            head, found, tail = half.partition("{address}")
            if not found:
                continue
            pattern = (
                (r"(?<!\S)" if not head.strip() else _loose(head) + r"\s*") + r"(\S+?)\s*" + _loose(tail)
            )
            match = re.search(pattern + r"(?=\s|$)", text, re.IGNORECASE)
            if match:
                return match.group(1)
    return None


def mask_fits(shown: str, candidate: str, mask: re.Pattern[str]) -> bool:
    """Whether a masked address ("a0***@example.test") can be ``candidate``."""
    found = mask.fullmatch(shown.strip())
    if found is None or "@" not in candidate:
        return False
    groups = found.groupdict()
    head, tail, domain = groups.get("head") or "", groups.get("tail") or "", groups.get("domain") or ""
    local, _, their_domain = candidate.rpartition("@")
    return (
        their_domain.casefold() == domain.casefold()
        and local.startswith(head)
        and local.endswith(tail)
        and len(local) > len(head) + len(tail)
    )
