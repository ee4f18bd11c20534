"""How the harness words what goes wrong: one line, plain text, and a guess at what was meant.

A person reads these in a terminal or a CI log, often with nobody else to ask. A portal's error
page pasted into a message (an nginx 404, a Django debug page) buried the one useful line under
raw HTML; a typo such as ``-m TOTP_WINDOWS`` deselected every check without saying why. So every
message the harness builds from outside text goes through :func:`one_line`, and every "no such
name" says which known name is nearest (:func:`did_you_mean`).
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable

MAX_LINE = 200

# Only the tags of real HTML pages, so that an address such as <user@example.com> stays.
_ELEMENTS = (
    "!doctype|html|head|body|title|meta|link|style|script|noscript|h[1-6]|p|div|span|pre|code|a|br|hr"
    "|ul|ol|li|dl|dt|dd|table|thead|tbody|tr|td|th|form|input|label|button|center|b|i|em|strong|small"
    "|address|main|header|footer|nav|section|article|img|svg|path"
)
_HIDDEN = re.compile(r"<(script|style|head)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(rf"</?(?:{_ELEMENTS})\b[^>]*>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def strip_html(text: str) -> str:
    """The readable text of an HTML fragment or page: no tags, no head, entities decoded.

    A page's ``<title>`` is its best one-line summary, so it is kept when the body repeats it."""
    if not _TAG.search(text):
        return text
    title = re.search(r"<title\b[^>]*>(.*?)</title\s*>", text, re.IGNORECASE | re.DOTALL)
    body = _TAG.sub(" ", _COMMENT.sub(" ", _HIDDEN.sub(" ", text)))
    plain = html.unescape(_SPACE.sub(" ", body)).strip()
    heading = html.unescape(_SPACE.sub(" ", title.group(1))).strip() if title else ""
    if heading and not plain.startswith(heading):
        plain = f"{heading}: {plain}" if plain else heading
    return plain


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` as one plain line of at most ``limit`` characters: HTML stripped, every run of
    white space (new lines too) one space, the rest cut with an ellipsis."""
    plain = _SPACE.sub(" ", strip_html(str(text))).strip()
    return plain if len(plain) <= limit else plain[: limit - 1].rstrip() + "…"


def nearest(word: str, known: Iterable[str]) -> str | None:
    """The known name nearest to ``word`` (difflib's ratio, case ignored), if any is near."""
    names = list(known)
    by_fold = {name.casefold(): name for name in names}
    if word.casefold() in by_fold:
        return by_fold[word.casefold()]
    close = difflib.get_close_matches(word.casefold(), list(by_fold), n=1, cutoff=0.6)
    return by_fold[close[0]] if close else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``"; did you mean 'X'?"`` for the nearest known name, or ``""`` when none is near."""
    guess = nearest(word, known)
    return f"; did you mean {guess!r}?" if guess is not None and guess != word else ""
