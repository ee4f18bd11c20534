"""Matching what a page shows against what the site map says it shows.

The manuals write one text several ways (spacing, line breaks, full-width colons, "ログイン<br>
Login" or "ログイン / Login"), and a portal may show one language only. So a text is compared
the way spec/protocol.md §15 compares messages: after NFKC normalisation and the removal of
all white space, case folded, and split into its halves (at line breaks and at " / ", never at
the "/" of "ECS-ID/SPS-ID"). Two texts match when they share a half.

A run compares the same few hundred texts (the site map's, and the headings, labels and lines
its pages show again and again) tens of thousands of times, so their folded forms are cached.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_HALVES = re.compile(r"\n|\s/\s")
_TRAILING = " :：*＊"


def squash(text: str) -> str:
    """White space as a person reads it: runs of it are one space, none at the ends."""
    return " ".join(text.split())


@lru_cache(maxsize=16384)
def fold(text: str) -> str:
    """The form two texts are compared in (§15): NFKC, no white space, case folded, and no
    trailing colon or asterisk (a label's "ログインID:" is the label "ログインID")."""
    folded = "".join(unicodedata.normalize("NFKC", text).split()).casefold()
    return folded.rstrip(_TRAILING)


@lru_cache(maxsize=16384)
def halves(text: str) -> frozenset[str]:
    """The folded parts of a bilingual text, and the whole of it."""
    parts = {fold(part) for part in _HALVES.split(unicodedata.normalize("NFKC", text))}
    parts.add(fold(text.replace("\n", " ")))
    return frozenset(part for part in parts if part)


def same_text(wanted: str, shown: str) -> bool:
    """Either language's half of ``wanted``, as the page shows it."""
    return bool(halves(wanted) & halves(shown))


def contains_text(wanted: str, shown: str) -> bool:
    """A half of ``wanted`` inside ``shown``: for messages, which often add a detail."""
    haystack = fold(shown.replace("\n", " "))
    return any(half in haystack for half in halves(wanted) if len(half) >= 2)


def japanese(text: str) -> bool:
    """Whether a text is written (at least partly) in Japanese script."""
    return any(
        "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef" for c in text
    )
