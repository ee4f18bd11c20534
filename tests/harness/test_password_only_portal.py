"""A portal where an address is no second factor: an account with one and no app logs in on its
password alone, to the settings, as to an initial setup.

That is django-allauth's rule (its MFA is an app only; docs/allauth.md), met by the harness's
whole suite through allauth's pages. Here the same rule is the reference's core with that one
login changed, in process, so that what the harness does about it is proved in seconds: the
account pool does not hand on an account with the address a check registered, and a check
that meets such a login FAILs SECOND_FACTOR_REQUIRED, not the requirement it was about.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from ninsho.conformance import actions
from ninsho.conformance.checks.test_sessions import (
    test_offered_second_factors_follow_registrations as offered_check,
)
from ninsho.conformance.checks.test_web import test_forms_refuse_forged_submissions as forged_forms_check
from ninsho.conformance.drivers.embedded import embedded_target
from ninsho.conformance.errors import RequirementFailed
from ninsho.conformance.pool import AccountPool, Parts
from ninsho.conformance.steps.common import tagged
from ninsho.conformance.target import Target
from ninsho.reference.core.portal import LoginResult, Portal
from ninsho.reference.core.state import AccountState, Stage
from ninsho.reference.embedded import embedded_portal
from ninsho.spec.registry import load_profile


class _AddressIsNoFactor(Portal):
    """The reference, except that an account whose only factor is an address logs in to the set-up
    stage, as one with no factor does."""

    def login(
        self, login_id: str, password: str, *, trust_token: str | None = None, client: str = ""
    ) -> LoginResult:
        result = super().login(login_id, password, trust_token=trust_token, client=client)
        if result.stage is not Stage.FIRST_FACTOR or result.methods != ("email",):
            return result
        now = self.clock.now()

        def straight_in(state: AccountState) -> LoginResult:
            return LoginResult(self._open_session(state, Stage.SETUP, now), Stage.SETUP, result.methods)

        return self.store.transact(login_id, straight_in)


def target() -> Target:
    profile = load_profile("iimc")
    return embedded_target(embedded_portal(profile, make_portal=_AddressIsNoFactor), profile)


def test_the_portal_is_as_described() -> None:
    portal = target()
    account = portal.operator.new_account()
    browser = portal.new_driver()
    assert browser.login(account).stage == "setup"
    assert account.address
    actions.register_address(browser, portal.mailbox, portal.clock, portal.profile, account.address)
    browser.logout()
    again = portal.new_driver()
    assert again.login(account).stage == "setup", "an address alone: straight in"
    assert again.settings().data.get("address") == account.address


def test_the_pool_resets_an_account_whose_registered_address_lets_it_straight_in() -> None:
    """Before, the pool took a login to the set-up stage for "no factor" and handed the account
    on with its address; the next check's registration of that address was refused."""
    portal = target()
    accounts = [portal.operator.new_account()]
    pool = AccountPool(accounts, Parts(portal.new_driver, portal.mailbox, portal.clock, portal.profile, None))
    account = pool.lease()
    browser = portal.new_driver()
    browser.login(account)
    assert account.address
    actions.register_address(browser, portal.mailbox, portal.clock, portal.profile, account.address)
    browser.logout()
    pool.note_address(account.login_id, account.address)
    pool.give_back(account)
    assert not pool.retired, pool.retired
    after = portal.new_driver()
    assert after.login(account).stage == "setup"
    assert after.settings().data.get("address") is None, "the reset by the mailed code cleared the address"


def test_the_forged_forms_check_goes_on_past_a_login_without_second_factor() -> None:
    """WEB_CSRF's flow logs in again once an address is registered: let in on the password alone,
    the check FAILs SECOND_FACTOR_REQUIRED on the way (softly) and judges the forms that remain,
    where before it stopped with an ERROR ("no second factor asked")."""
    portal = target()
    forged_forms_check(portal)
    assert [f.requirement for f in portal.transcript.soft_failures] == ["SECOND_FACTOR_REQUIRED"]
    judged = portal.measured.get("forged_forms", "")
    assert all(f"({action})" in str(judged) for action in ("register_app", "initialize", "confirm_reset")), (
        judged
    )


def test_the_offered_factors_check_fails_the_rule_the_login_broke() -> None:
    """Before, the check read no offered methods off a login that asked for none, and said
    NOT_APPLICABLE ("the driver cannot see which second factors the portal offers")."""
    with pytest.raises(RequirementFailed, match="it went to 'setup'") as failed:
        offered_check(target())
    assert failed.value.requirement == "SECOND_FACTOR_REQUIRED"


def _request(*tags: str) -> pytest.FixtureRequest:
    """What :func:`tagged` reads of a scenario's request: its item's markers."""
    node = SimpleNamespace(iter_markers=lambda: [SimpleNamespace(name=tag) for tag in tags])
    return cast(pytest.FixtureRequest, SimpleNamespace(node=node))


def test_a_shared_steps_failure_names_the_rule_it_shows_when_no_tag_says() -> None:
    """'Then I am asked for a one-time password' in a Logout scenario, let in on the password:
    SECOND_FACTOR_REQUIRED's FAIL (the scenario's LOGOUT is then not reached). A scenario tagged
    with one candidate still names it; with several, none (every tag FAILs, as before)."""
    step = "second factor asked"
    assert tagged(_request("LOGOUT"), step, "SECOND_FACTOR_REQUIRED") == "SECOND_FACTOR_REQUIRED"
    assert tagged(_request("LOGOUT"), step) is None
    assert tagged(_request("LOGOUT", "TRUST_BROWSER"), step, "SECOND_FACTOR_REQUIRED") == "TRUST_BROWSER"
    both = _request("TRUST_BROWSER", "TRUST_BROWSER_EXPIRY")
    assert tagged(both, step, "SECOND_FACTOR_REQUIRED") is None
