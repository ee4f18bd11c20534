"""The address cases of ``spec/vectors/addresses.toml``, read from the installed spec package.

A feature names a case by its ``id`` and shows the address as :func:`display` writes it, so
that invisible characters can be read in a Gherkin table; the step checks that the two agree,
so the feature can never drift from the vectors it claims to check. The expected verdict comes
from the vectors (adjusted for the profile's subdomain rule), not from the feature.
"""

from __future__ import annotations

import tomllib
import unicodedata
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from reference.core.profile import Profile

_ESCAPED = ("Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn")


@cache
def address_cases() -> dict[str, dict[str, Any]]:
    text = (files("ninsho_spec") / "vectors" / "addresses.toml").read_text(encoding="utf-8")
    return {case["id"]: case for case in tomllib.loads(text)["case"]}


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
    case = address_cases().get(case_id)
    if case is None:
        pytest.fail(f"the address vectors have no case {case_id!r}: update the feature's Examples")
    if display(case["input"]) != written:
        pytest.fail(
            f"the feature writes case {case_id!r} as {written!r}, "
            f"but the vectors hold {display(case['input'])!r}"
        )
    return case


def expected_verdict(case: dict[str, Any], profile: Profile) -> str:
    """The vectors' verdict, or the one they give for a profile without the subdomain rule."""
    if not profile.email_block_subdomains and "verdict_without_subdomain_rule" in case:
        return str(case["verdict_without_subdomain_rule"])
    return str(case["verdict"])


# The blocked domains the vectors are written for (the iimc profile).
VECTOR_DOMAINS = ("st.kyoto-u.ac.jp", "kyoto-u.ac.jp", "ms.c.kyoto-u.ac.jp")


def requirement_of(case: dict[str, Any], profile: Profile) -> str:
    """The requirement a case's verdict speaks for, as ``conformance/checks/test_addresses.py``
    names it, so that a feature and the check FAIL the same ID for the same case: a syntax error
    is EMAIL_ADDRESS_SYNTAX; a blocked domain itself EMAIL_BLOCKED_DOMAIN, one under it
    EMAIL_BLOCKED_SUBDOMAIN; an accepted domain that contains a blocked name
    EMAIL_LOOKALIKE_ACCEPTED; any other, or a verdict changed by the profile's subdomain rule,
    EMAIL_ADDRESS_NORMALIZATION."""
    if expected_verdict(case, profile) != case["verdict"]:
        return "EMAIL_ADDRESS_NORMALIZATION"
    if case["verdict"] == "invalid":
        return "EMAIL_ADDRESS_SYNTAX"
    domain = str(case["normalized"]).rpartition("@")[2]
    if case["verdict"] == "blocked":
        return "EMAIL_BLOCKED_DOMAIN" if domain in VECTOR_DOMAINS else "EMAIL_BLOCKED_SUBDOMAIN"
    if any(name in domain for name in VECTOR_DOMAINS):
        return "EMAIL_LOOKALIKE_ACCEPTED"
    return "EMAIL_ADDRESS_NORMALIZATION"
