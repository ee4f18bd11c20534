"""The address vectors of spec/vectors/addresses.toml, as the checks and the features read them.

One place decides what a case expects under a profile and which requirement its verdict speaks
for, so that a feature scenario and a check FAIL the same ID for the same case. The vectors are
templates over the profile's blocked domains (``ninsho.spec.address_vectors``): every profile is
judged by cases made from its own list, in every spelling, so another university's portal is
checked for blocked domains as iimc's is, never ruled NOT_APPLICABLE.
"""

from __future__ import annotations

import pytest

from ninsho.conformance.keys import CONFIG_KEY
from ninsho.spec.address_vectors import AddressCase
from ninsho.spec.address_vectors import address_cases as _expanded
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

__all__ = ["AddressCase", "address_cases", "judging_profile", "requirement_of"]


def address_cases(profile: Profile) -> list[AddressCase]:
    """The cases a portal judged by ``profile`` must answer."""
    return _expanded(profile)


def judging_profile(config: pytest.Config) -> Profile:
    """The profile of the run, at collection time: the cases (and so the test ids and the
    requirement markers that ``-m`` selects by) depend on its blocked domains. The ``portal``
    fixture judges by the same profile (conformance.fixtures)."""
    portal_config = config.stash.get(CONFIG_KEY, None)
    return load_profile(portal_config.profile if portal_config is not None else "iimc")


def requirement_of(case: AddressCase) -> str:
    """A syntax error is EMAIL_ADDRESS_SYNTAX; a blocked domain itself EMAIL_BLOCKED_DOMAIN, one
    under it EMAIL_BLOCKED_SUBDOMAIN; an accepted domain that contains a blocked name
    EMAIL_LOOKALIKE_ACCEPTED; any other, or a verdict the profile's subdomain rule changes,
    EMAIL_ADDRESS_NORMALIZATION. The vectors state it per case, after the profile's parameters
    (``[[case.when]]``), so the marker ``-m`` selects by and the ID a failure names agree."""
    return case.requirement
