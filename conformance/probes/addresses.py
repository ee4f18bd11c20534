"""The address vectors of spec/vectors/addresses.toml, as the checks and the features read them.

One place decides what a case expects under a profile and which requirement its verdict speaks
for, so that a feature scenario and a check FAIL the same ID for the same case. The vectors are
templates over the profile's blocked domains (``ninsho.spec.address_vectors``): every profile is
judged by cases made from its own list, in every spelling, so another university's portal is
checked for blocked domains as iimc's is, never ruled NOT_APPLICABLE.
"""

from __future__ import annotations

import pytest

from ninsho.conformance.errors import Inconclusive, RequirementFailed, ServerError
from ninsho.conformance.interfaces import Driver, Outcome
from ninsho.conformance.keys import CONFIG_KEY
from ninsho.conformance.refusals import HELD_BACK
from ninsho.spec.address_vectors import AddressCase
from ninsho.spec.address_vectors import address_cases as _expanded
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

__all__ = ["AddressCase", "address_cases", "judging_profile", "register_case", "requirement_of"]


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


def register_case(driver: Driver, case: AddressCase, typed: str | None = None) -> Outcome:
    """ "Send One-Time Password" with the case's address, and the answer, if it can judge the case.

    A server error (5xx) is the portal's FAIL of the case's requirement: the check provoked it
    with that address, and an address the portal crashes on was neither refused as the vectors
    say nor taken (django-allauth answered 500 to a right-to-left override and to encoded words,
    measured). A refusal that holds the registration back (a mail limit, a lock: protocol.md
    §12.4, §12.5) says nothing of the address, so the case is INCONCLUSIVE, never a FAIL: the
    vectors' addresses recur across a run's accounts, and a portal that limits mail per address
    may refuse one that another check registered a moment before."""
    address = case.input if typed is None else typed
    try:
        outcome = driver.register_email(address)
    except ServerError as exc:
        raise RequirementFailed(
            requirement_of(case),
            f"{address!r} ({case.note}) should be {case.verdict}; the portal answered with a server error: {exc}",
        ) from None
    if not outcome.ok and outcome.error in HELD_BACK:
        raise Inconclusive(
            f"the registration of {address!r} was held back ({outcome.error}): a limit on mail or on the"
            " account, which says nothing of the address",
            requirement_of(case),
        )
    return outcome
