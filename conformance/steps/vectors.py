"""The address cases of ``spec/vectors/addresses.toml``, as the features name them.

A feature names a case by its ``id`` and shows the address as :func:`display` writes it, so
that invisible characters can be read in a Gherkin table; the step checks that the two agree,
so the feature can never drift from the vectors it claims to check. The features' Examples are
written for the manual's domains (the iimc profile, ``FEATURES_PROFILE``); under a profile with
other blocked domains the step runs the same template made from that profile's list: the case
with the same id, or else the template's first case under that profile. The expected verdict
comes from the vectors under the run's profile, not from the feature; which verdict a case
expects and which requirement it speaks for is conformance.probes.addresses'.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import pytest

from ninsho.conformance.errors import NotApplicable
from ninsho.conformance.probes.addresses import AddressCase, address_cases, requirement_of
from ninsho.spec.address_vectors import expand
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

__all__ = ["FEATURES_PROFILE", "AddressCase", "address_case", "display", "requirement_of"]

# The profile the features' Examples spell their addresses for: the manual's three domains.
FEATURES_PROFILE = "iimc"

_ESCAPED = ("Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn")


@cache
def cases_by_id(profile: Profile) -> dict[str, AddressCase]:
    return {case.id: case for case in address_cases(profile)}


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


def address_case(case_id: str, written: str, profile: Profile) -> AddressCase:
    """The case the feature names, checked against the vectors the feature is written for,
    then made for ``profile``: the same id, or the same template's first case there."""
    written_for = cases_by_id(load_profile(FEATURES_PROFILE)).get(case_id)
    if written_for is None:
        pytest.fail(f"the address vectors have no case {case_id!r}: update the feature's Examples")
    if display(written_for.input) != written:
        pytest.fail(
            f"the feature writes case {case_id!r} as {written!r}, "
            f"but the vectors hold {display(written_for.input)!r}"
        )
    here = cases_by_id(profile)
    if case_id in here:
        return here[case_id]
    same_template = [c for c in here.values() if c.template == written_for.template]
    if not same_template:
        why = "; ".join(o.reason for o in expand(profile).left_out if o.template == written_for.template)
        raise NotApplicable(
            f"case {case_id!r} has no form for the blocked domains of {profile.name} "
            f"({', '.join(profile.email_blocked_domains)}): {why}"
        )
    return same_template[0]
