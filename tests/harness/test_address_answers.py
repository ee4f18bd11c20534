"""An address vector's answer that cannot judge the case: a hold-back, a server error.

Met through django-allauth's pages (docs/allauth.md): its per-address mail limit refused a
vector's address another check had just registered, which the harness read as the address
refused (a false FAIL of EMAIL_ADDRESS_NORMALIZATION); and it answered 500 to a right-to-left
override, which stopped the check with an ERROR. Proved here on the reference in process: its
mail limit is the real one, and the crash is the reference's core with one method raising.
"""

from __future__ import annotations

import pytest

from ninsho.conformance.drivers.embedded import embedded_target
from ninsho.conformance.errors import Inconclusive, RequirementFailed
from ninsho.conformance.interfaces import Driver
from ninsho.conformance.probes.addresses import address_cases, register_case
from ninsho.conformance.target import Target
from ninsho.reference.core.portal import CodeSent, Portal
from ninsho.reference.embedded import embedded_portal
from ninsho.spec.address_vectors import AddressCase
from ninsho.spec.registry import load_profile

PROFILE = load_profile("iimc")


def case(verdict: str, contains: str = "") -> AddressCase:
    return next(c for c in address_cases(PROFILE) if c.verdict == verdict and contains in c.input)


class _CrashesOnOverride(Portal):
    """The reference, except that an address with U+202E RIGHT-TO-LEFT OVERRIDE crashes it."""

    def start_email_registration(self, session: str, address: str) -> CodeSent:
        if "\u202e" in address:
            raise UnicodeError("'\u202e' cannot be encoded for the mail")
        return super().start_email_registration(session, address)


def signed_in(portal: Target) -> Driver:
    browser = portal.new_driver()
    assert browser.login(portal.operator.new_account()).stage == "setup"
    return browser


def test_an_accepted_address_held_back_by_the_mail_limit_is_inconclusive() -> None:
    portal = embedded_target(embedded_portal(PROFILE), PROFILE)
    accepted = case("accepted")
    browser = signed_in(portal)
    for _ in range(PROFILE.mail_limit_per_address):
        assert browser.register_email(accepted.input).ok
    with pytest.raises(Inconclusive, match="held back \\(rate_limited\\)") as held:
        register_case(browser, accepted)
    assert held.value.requirement == accepted.requirement


def test_an_address_that_crashes_the_portal_fails_its_requirement() -> None:
    portal = embedded_target(embedded_portal(PROFILE, make_portal=_CrashesOnOverride), PROFILE)
    override = case("invalid", "\u202e")
    with pytest.raises(RequirementFailed, match="server error") as failed:
        register_case(signed_in(portal), override)
    assert failed.value.requirement == override.requirement == "EMAIL_ADDRESS_SYNTAX"


def test_an_answer_that_judges_the_case_is_returned() -> None:
    portal = embedded_target(embedded_portal(PROFILE), PROFILE)
    blocked = case("blocked")
    outcome = register_case(signed_in(portal), blocked)
    assert outcome.refused and outcome.error == "blocked_address"
