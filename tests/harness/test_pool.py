"""The account pool: borrowed, put back through the portal's own reset, used again.

In process, against the embedded reference (a real portal: its reset flow, its mail, its
helpdesk), then over HTTP: the whole suite twice on one pool of a few accounts, with the same
verdicts both times (issue "Staging-ready runs", item 1).
"""

from __future__ import annotations

import shlex
import sys
import threading
import time
from pathlib import Path

import httpx
import pyotp
import pytest

from ninsho.conformance import actions
from ninsho.conformance.drivers.embedded import embedded_target, factory
from ninsho.conformance.errors import DriverError
from ninsho.conformance.interfaces import Account
from ninsho.conformance.pool import AccountPool, Parts, _masks
from ninsho.conformance.target import Target
from ninsho.spec.registry import load_profile
from tests.harness.report_rows import unjudged
from tests.harness.test_http_harness import (
    ADMIN_TOKEN,
    JSON_NOT_APPLICABLE,
    POOL_PASSWORD,
    TOKEN_ENV,
    add_accounts,
    harness_server,
    ninsho_check,
    portal_toml,
)
from tests.web.support import cli_env


def portal() -> Target:
    profile = load_profile("iimc")
    return embedded_target(factory()(profile), profile)


def pool_on(target: Target, size: int, *, helpdesk: bool = True, timeout: float = 5.0) -> AccountPool:
    """A pool of ``size`` accounts on the embedded portal behind ``target``."""
    accounts = [target.operator.new_account() for _ in range(size)]
    parts = Parts(
        target.new_driver, target.mailbox, target.clock, target.profile, target.operator if helpdesk else None
    )
    return AccountPool(accounts, parts, lease_timeout=timeout)


def stage_of(target: Target, account: Account) -> str | None:
    browser = target.new_driver()
    stage = browser.login(account).stage
    browser.logout()
    return stage


def enrol_email_and_app(target: Target, account: Account) -> pyotp.TOTP:
    """What a check leaves behind: an address and an app (whose key it returns)."""
    browser = target.new_driver()
    assert browser.login(account).stage == "setup"
    assert account.address
    actions.register_address(browser, target.mailbox, target.clock, target.profile, account.address)
    totp = actions.scan(browser.start_app_registration().uri)
    assert browser.register_app(totp.at(int(target.clock.now()))).ok
    browser.logout()
    return totp


def test_an_account_goes_back_to_its_starting_state_through_the_reset() -> None:
    target = portal()
    pool = pool_on(target, 1)
    lease = pool.lease_for_check(None)
    account = lease.new_account()
    enrol_email_and_app(target, account)
    assert stage_of(target, account) == "first_factor"
    lease.release()
    assert stage_of(target, account) == "setup", "the reset by the mailed code voided every factor"
    assert pool.lease() == account, "and it is free for the next check"


def test_an_address_the_check_registered_is_where_the_reset_code_is_looked_for() -> None:
    target = portal()
    pool = pool_on(target, 1)
    account = pool.lease()
    browser = target.new_driver()
    browser.login(account)
    other = "someone.else@example.org"
    actions.register_address(browser, target.mailbox, target.clock, target.profile, other)
    browser.logout()
    pool.note_address(account.login_id, other)
    pool.give_back(account)
    assert stage_of(target, account) == "setup" and not pool.retired


def test_with_no_address_the_helpdesk_issues_the_code() -> None:
    target = portal()
    pool = pool_on(target, 1)
    account = pool.lease()
    browser = target.new_driver()
    browser.login(account)
    totp = actions.scan(browser.start_app_registration().uri)
    assert browser.register_app(totp.at(int(target.clock.now()))).ok  # the app alone: no address
    browser.logout()
    pool.give_back(account)
    assert stage_of(target, account) == "setup" and not pool.retired


def test_an_account_that_cannot_be_put_back_leaves_the_pool_with_the_reason() -> None:
    target = portal()
    pool = pool_on(target, 1, helpdesk=False)
    account = pool.lease()
    browser = target.new_driver()
    browser.login(account)
    totp = actions.scan(browser.start_app_registration().uri)
    browser.register_app(totp.at(int(target.clock.now())))
    pool.give_back(account)
    assert "no helpdesk is configured" in pool.retired[account.login_id]
    # The run ran out of accounts: its own limit, an ERROR naming the fix, not the portal's verdict.
    with pytest.raises(DriverError, match=r"every one of the 1 pool accounts has left the pool.*list more"):
        pool.lease()


def test_a_check_waits_for_a_free_account_and_gets_it_when_one_comes_back() -> None:
    target = portal()
    pool = pool_on(target, 1, timeout=30.0)
    first = pool.lease()
    got: list[Account] = []
    waiting = threading.Thread(target=lambda: got.append(pool.lease()))
    waiting.start()
    time.sleep(0.2)  # the second lease is waiting now (the test of a wait, not of a lifetime)
    assert not got
    pool.give_back(first)
    waiting.join(timeout=10)
    assert got == [first]


def test_a_pool_that_stays_busy_is_an_error_that_says_so() -> None:
    target = portal()
    pool = pool_on(target, 1, timeout=0.2)
    pool.lease()
    with pytest.raises(DriverError, match="stayed in use"):
        pool.lease()


@pytest.mark.parametrize(
    ("shown", "address", "masks"),
    [
        ("ta*****@example.test", "taro@example.test", True),
        ("ta*****@example.test", "hanako@example.test", False),
        ("ta*****@example.test", "taro@example.org", False),
        ("", "taro@example.test", False),
    ],
)
def test_a_masked_address_is_matched_to_the_registered_one(shown: str, address: str, masks: bool) -> None:
    assert _masks(shown, address) is masks


def helpdesk_command() -> str:
    """The operator's command the pool run uses: the reference's helpdesk endpoint, over HTTP."""
    script = (
        "import os, sys, httpx; "
        "r = httpx.post(os.environ['PORTAL'] + '/api/v1/admin/helpdesk/' + sys.argv[1] + '/code', "
        f"headers={{'Authorization': 'Bearer ' + os.environ['{TOKEN_ENV}']}}); "
        "print(r.json()['code']) if r.status_code == 200 else sys.exit(r.text)"
    )
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(script)} {{login_id}}"


@pytest.mark.slow
def test_the_whole_suite_twice_on_one_small_pool(tmp_path: Path) -> None:
    """Twelve accounts, the test clock, the JSON driver: every check, two runs in a row, the
    same verdicts, and the accounts back in their starting state after each."""
    server = harness_server(tmp_path / "server").start()
    try:
        pool = [f"pool{n:04d}" for n in range(1, 13)]
        add_accounts(server, pool, POOL_PASSWORD)
        config = portal_toml(
            tmp_path / "portal.toml", server, "json", provision="pool", pool=pool, operator=helpdesk_command()
        )
        env = cli_env(**{TOKEN_ENV: ADMIN_TOKEN, "NINSHO_TEST_PASSWORD": POOL_PASSWORD, "PORTAL": server.url})
        runs = []
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            runs.append(ninsho_check(tmp_path / name, str(config), env=env, timeout=1200))
        stages = {
            login_id: httpx.post(
                server.url + "/api/v1/login",
                json={"login_id": login_id, "password": POOL_PASSWORD},
                timeout=10,
            ).json()["stage"]
            for login_id in pool
        }
    finally:
        server.stop()
    first, second = runs
    verdicts_1, verdicts_2 = first.verdicts(), second.verdicts()
    not_passed = {rid: v for rid, v in verdicts_1.items() if v != "PASS"}
    assert not_passed == dict.fromkeys(JSON_NOT_APPLICABLE, "NOT_APPLICABLE"), first.output
    assert verdicts_2 == verdicts_1, second.output
    assert first.report is not None and second.report is not None
    assert unjudged(first.report) == unjudged(second.report)
    assert first.status == second.status == 0, second.output
    assert stages == {login_id: "setup" for login_id in pool}, "every account back in its starting state"


def test_before_a_real_time_run_the_pool_says_what_it_costs() -> None:
    from ninsho.conformance.hooks import pool_plan, pool_used_up

    assert pool_plan(12, 40).startswith("pool: full parallelism needs 40 accounts")
    assert "up to 4 rounds" in pool_plan(12, 40)
    assert pool_plan(40, 40).endswith("full parallelism")
    assert "declares no reset" in pool_used_up(280, 120) and "120 checks" in pool_used_up(280, 120)


def test_an_account_a_check_locked_is_put_back_once_the_lock_lifts() -> None:
    """The lockout probe leaves its account locked; the reset waits the lock out, then starts
    again from the login (the reset session would not outlive the lock)."""
    target = portal()
    pool = pool_on(target, 1)
    account = pool.lease()
    totp = enrol_email_and_app(target, account)
    wrong = actions.wrong_code(totp, actions.step_at(target.profile, target.clock.now()))
    browser = target.new_driver()
    browser.login(account)
    for _ in range(target.profile.lockout_threshold):
        browser.submit_app_code(wrong)
    assert browser.submit_app_code(wrong).error == "account_locked"
    pool.give_back(account)
    assert not pool.retired, pool.retired
    assert stage_of(target, account) == "setup"
