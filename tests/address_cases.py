"""The address vectors under iimc in the shape the flow tests were written for.

spec/vectors/addresses.toml holds templates over the profile's blocked domains now
(ninsho.spec.address_vectors); the core's flow tests and the clean-room and page portals' tests
read plain dicts with ``verdict_without_subdomain_rule``. This is that view, made from the
expansion, so that those tests keep reading the live vectors rather than a copy.
"""

from __future__ import annotations

from typing import Any

from ninsho.spec.address_vectors import AddressCase, address_cases
from ninsho.spec.registry import load_profile


def as_dict(case: AddressCase, exact: AddressCase | None = None) -> dict[str, Any]:
    """``case`` as a dict; ``exact`` is the same case with ``email.block_subdomains = false``."""
    row: dict[str, Any] = {"id": case.id, "input": case.input, "verdict": case.verdict, "note": case.note}
    row["requirement"] = case.requirement
    if case.normalized is not None:
        row["normalized"] = case.normalized
    if exact is not None and exact.verdict != case.verdict:
        row["verdict_without_subdomain_rule"] = exact.verdict
    return row


def case_dicts() -> list[dict[str, Any]]:
    """The cases under iimc, each with the verdict it has when ``email.block_subdomains`` is
    false, where that differs (the old ``verdict_without_subdomain_rule``)."""
    iimc = load_profile("iimc")
    assert iimc.email_block_subdomains, "iimc blocks subdomains: the flow tests are written for it"
    exact = {c.id: c for c in address_cases(iimc.replace(email_block_subdomains=False))}
    return [as_dict(c, exact.get(c.id)) for c in address_cases(iimc)]
