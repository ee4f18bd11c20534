"""The address for email-authentication: every case of spec/vectors/addresses.toml.

The vectors are written for the iimc list of blocked domains; under a profile with another list
they do not apply and say so (NOT_APPLICABLE), rather than judge by the wrong list.
"""

from __future__ import annotations

from typing import Any

import pytest

from ninsho.conformance.errors import expect
from ninsho.conformance.probes.addresses import address_cases, expected_verdict, requirement_of
from ninsho.conformance.target import Target

VECTORS = address_cases()


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c["id"], marks=getattr(pytest.mark, requirement_of(c))) for c in VECTORS],
)
def test_address_case(portal: Target, case: dict[str, Any]) -> None:
    """Register the vector's address with "Send One-Time Password"; refused or accepted as the vector says."""
    expected = expected_verdict(case, portal.profile)
    rid = requirement_of(case, portal.profile)
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
