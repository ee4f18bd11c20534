"""The address for email-authentication: every case of spec/vectors/addresses.toml.

The vectors are written for the iimc list of blocked domains; under a profile with another list
they do not apply and say so (NOT_APPLICABLE), rather than judge by the wrong list.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.target import Target
from conformance.verdicts import NotApplicable, expect
from reference.spec import read_toml

VECTORS: list[dict[str, Any]] = read_toml("vectors/addresses.toml")["case"]
VECTOR_DOMAINS = ("st.kyoto-u.ac.jp", "kyoto-u.ac.jp", "ms.c.kyoto-u.ac.jp")


def requirement_of(case: dict[str, Any]) -> str:
    """Which requirement a case speaks for, from its verdict and its normalised domain."""
    if case["verdict"] == "invalid":
        return "EMAIL_ADDRESS_SYNTAX"
    domain = case["normalized"].rpartition("@")[2]
    if case["verdict"] == "blocked":
        return "EMAIL_BLOCKED_DOMAIN" if domain in VECTOR_DOMAINS else "EMAIL_BLOCKED_SUBDOMAIN"
    if any(name in domain for name in VECTOR_DOMAINS):
        return "EMAIL_LOOKALIKE_ACCEPTED"
    return "EMAIL_ADDRESS_NORMALIZATION"


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c["id"], marks=getattr(pytest.mark, requirement_of(c))) for c in VECTORS],
)
def test_address_case(portal: Target, case: dict[str, Any]) -> None:
    """Register the vector's address with "Send One-Time Password"; refused or accepted as the vector says."""
    p = portal.profile
    if tuple(sorted(p.email_blocked_domains)) != tuple(sorted(VECTOR_DOMAINS)):
        raise NotApplicable(
            f"the vectors are for {VECTOR_DOMAINS}; the profile blocks {p.email_blocked_domains}"
        )
    expected = (
        case["verdict"]
        if p.email_block_subdomains
        else case.get("verdict_without_subdomain_rule", case["verdict"])
    )
    rid = requirement_of(case) if expected == case["verdict"] else "EMAIL_ADDRESS_NORMALIZATION"
    driver = portal.browser()
    driver.login(portal.account())
    outcome = driver.register_email(case["input"])
    portal.measure("answer", "accepted" if outcome.ok else f"refused: {outcome.error}")
    if expected == "accepted":
        expect(outcome.ok, rid, f"{case['input']!r} was refused ({outcome.error}): {case.get('note', '')}")
        shown = outcome.data.get("address")
        if shown is not None:
            local, _, domain = str(shown).rpartition("@")
            want_local, _, want_domain = case["normalized"].rpartition("@")
            expect(
                (local, domain.lower()) == (want_local, want_domain),
                "EMAIL_ADDRESS_NORMALIZATION",
                f"mail sent to {shown!r}, the normal form is {case['normalized']!r}",
            )
    else:
        expect(
            outcome.refused, rid, f"{case['input']!r} was accepted, it is {expected}: {case.get('note', '')}"
        )
