"""The address for email-authentication: every case of spec/vectors/addresses.toml.

The vectors are templates over the profile's blocked domains, so the cases are made at
collection time from the run's profile: a portal is judged by its own list, in every spelling
(case, trailing dot, IDN, full width, white space, zero width, subdomains, lookalikes, several
"@", subaddress), whatever university it serves.
"""

from __future__ import annotations

import pytest

from ninsho.conformance.errors import HarnessError, expect
from ninsho.conformance.probes.addresses import (
    AddressCase,
    address_cases,
    judging_profile,
    register_case,
    requirement_of,
)
from ninsho.conformance.target import Target


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per case under the run's profile, marked with the requirement it speaks for."""
    if "case" not in metafunc.fixturenames:
        return
    cases = address_cases(judging_profile(metafunc.config))
    metafunc.parametrize(
        "case",
        [pytest.param(c, id=c.id, marks=getattr(pytest.mark, requirement_of(c))) for c in cases],
    )


def test_address_case(portal: Target, case: AddressCase) -> None:
    """Register the vector's address with "Send One-Time Password"; refused or accepted as the vector says."""
    if case not in address_cases(portal.profile):
        raise HarnessError(f"case {case.id!r} was made for another profile than {portal.profile.name}'s")
    rid = requirement_of(case)
    driver = portal.browser()
    driver.login(portal.account())
    outcome = register_case(driver, case)
    portal.measure("answer", "accepted" if outcome.ok else f"refused: {outcome.error}")
    if case.verdict == "accepted":
        expect(outcome.ok, rid, f"{case.input!r} was refused ({outcome.error}): {case.note}")
        shown = outcome.data.get("address")
        if shown is not None and case.normalized is not None:
            local, _, domain = str(shown).rpartition("@")
            want_local, _, want_domain = case.normalized.rpartition("@")
            expect(
                (local, domain.lower()) == (want_local, want_domain),
                "EMAIL_ADDRESS_NORMALIZATION",
                f"mail sent to {shown!r}, the normal form is {case.normalized!r}",
            )
    else:
        expect(outcome.refused, rid, f"{case.input!r} was accepted, it is {case.verdict}: {case.note}")
