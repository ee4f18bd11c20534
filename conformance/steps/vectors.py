"""The address cases of ``spec/vectors/addresses.toml``, read from the installed spec package.

A feature names a case by its ``id`` and shows the address as :func:`display` writes it, so
that invisible characters can be read in a Gherkin table; the step checks that the two agree,
so the feature can never drift from the vectors it claims to check. The expected verdict comes
from the vectors (adjusted for the profile's subdomain rule), not from the feature; which
verdict a case expects and which requirement it speaks for is conformance.probes.addresses'.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

import pytest

from ninsho.conformance.probes.addresses import address_cases, expected_verdict, requirement_of

__all__ = ["address_case", "display", "expected_verdict", "requirement_of"]

_ESCAPED = ("Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn")


@cache
def cases_by_id() -> dict[str, dict[str, Any]]:
    return {case["id"]: case for case in address_cases()}


def _shown_as_is(char: str, inner: bool) -> bool:
    """Visible ASCII, and the wide East Asian forms a Japanese user types (full-width letters,
    "。", kanji), are written as they are; a plain space only between other characters. Other
    characters, among them lookalikes such as CYRILLIC SMALL LETTER O and KELVIN SIGN, are
    written ``\\uXXXX`` so a reader sees that they are not what they look like."""
    if unicodedata.category(char) in _ESCAPED:
        return char == " " and inner
    return char.isascii() or unicodedata.east_asian_width(char) in ("W", "F")


def display(raw: str) -> str:
    """``raw`` as a feature writes it in an Examples table."""
    out = []
    for i, char in enumerate(raw):
        inner = 0 < i < len(raw) - 1 and not raw[i - 1].isspace() and not raw[i + 1].isspace()
        if not _shown_as_is(char, inner):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def address_case(case_id: str, written: str) -> dict[str, Any]:
    case = cases_by_id().get(case_id)
    if case is None:
        pytest.fail(f"the address vectors have no case {case_id!r}: update the feature's Examples")
    if display(case["input"]) != written:
        pytest.fail(
            f"the feature writes case {case_id!r} as {written!r}, "
            f"but the vectors hold {display(case['input'])!r}"
        )
    return case
