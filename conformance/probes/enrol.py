"""Getting an account into the state a check needs, the way the manuals do it.

The user actions themselves are :mod:`ninsho.conformance.actions`, shared with the feature
steps; this module strings them together on a :class:`Target`, or asks the portal's operator to
enrol factors where the portal has no self-service set-up (interfaces.Enroller)."""

from __future__ import annotations

from dataclasses import dataclass

import pyotp

from ninsho.conformance import actions, waits
from ninsho.conformance.actions import mailed_code, register_address, scan, step_at, totp_code
from ninsho.conformance.actions import second_factor_by_mail as by_mail
from ninsho.conformance.errors import expect
from ninsho.conformance.interfaces import Account, Driver, DriverError
from ninsho.conformance.probes.reset_link import reset_by_link
from ninsho.conformance.target import Target


@dataclass
class Enrolled:
    account: Account
    driver: Driver  # logged out, ready for the next login
    totp: pyotp.TOTP | None = None
    registered_step: int = 0  # the step of the code that registered the app: used, on a correct portal
    used_step: int | None = None  # the newest step whose code :func:`pass_second_factor` typed


def _require(ok: bool, what: str, detail: object) -> None:
    """A set-up step failed: the check cannot judge what it was written for."""
    if not ok:
        raise DriverError(f"set-up failed: {what}: {detail}")


def enrol_email(target: Target) -> Enrolled:
    """Initial setup: log in, "Send One-Time Password", "Confirm", log out (or the operator's
    enrolment, for portals without self-service set-up: interfaces.Enroller)."""
    account, driver = target.account(), target.browser()
    enroller = getattr(target.operator, "enrol_email", None)
    if enroller is not None:
        enroller(account)
        target.transcript.add(f"operator: enrolled the address of {account.login_id}")
        return Enrolled(account, driver)
    assert account.address is not None
    login = driver.login(account)
    _require(login.ok, "first login", login)
    register_address(driver, target.inbox, target.clock, target.profile, account.address)
    driver.logout()
    return Enrolled(account, driver)


def enrol_app(target: Target, *, with_email: bool = True) -> Enrolled:
    """Email first (as the initial setup asks), then the app: scan, enter a code, "Register"
    (:func:`in_settings`, then :func:`add_app`)."""
    enroller = getattr(target.operator, "enrol_app", None)
    if enroller is not None:
        account = target.account()
        if with_email and hasattr(target.operator, "enrol_email"):
            target.operator.enrol_email(account)
        totp = scan(enroller(account))
        target.transcript.add(f"operator: enrolled an app for {account.login_id}")
        # No code was used to register, so no step is spent: probes need not wait.
        return Enrolled(account, target.browser(), totp, step_of(target) - 10**6)
    if with_email:
        enrolled = in_settings(target)
        account, driver = enrolled.account, enrolled.driver
    else:
        account, driver = target.account(), target.browser()
        login = driver.login(account)
        _require(login.ok, "first login", login)
    totp, step = add_app(target, driver)
    driver.logout()
    return Enrolled(account, driver, totp, step)


def in_settings(target: Target, *, mail_gap: float = 0.0) -> Enrolled:
    """An account with its address registered and no app, and a browser signed in to its
    settings, as the initial setup leaves it: where the App tab's checks start. Where the driver
    passes no mailed code (:func:`logs_in_by_mail`), the address is registered in the set-up
    session itself, which goes on to the settings: once the address is registered, a new login
    would ask for a code this run cannot pass. ``mail_gap``: the time let pass between the setup's
    mail and the login code's, to the same address, for a check that reads a mail of it later."""
    if logs_in_by_mail(target.new_driver()):
        enrolled = enrol_email(target)
        login = enrolled.driver.login(enrolled.account)
        _require(login.ok, "login", login)
        target.clock.advance(mail_gap)
        if login.stage == "first_factor":
            second_factor_by_mail(target, enrolled, enrolled.driver)
        return enrolled
    account, driver = target.account(), target.browser()
    login = driver.login(account)
    _require(login.ok, "first login", login)
    register_address(driver, target.inbox, target.clock, target.profile, account.address or "")
    return Enrolled(account, driver)


def signed_in(target: Target) -> Enrolled:
    """An account with a second factor this run can pass (:func:`enrol_second_factor`), and its
    browser signed in past it: for the checks of what a signed-in session does (logout, its
    idle end), which need no particular factor."""
    enrolled = enrol_second_factor(target)
    enrolled.driver.login(enrolled.account)
    pass_second_factor(target, enrolled, enrolled.driver)
    return enrolled


def add_app(target: Target, driver: Driver) -> tuple[pyotp.TOTP, int]:
    """The App tab for a browser in the settings: scan, a current code, "Register". Returns the
    key and the step its code used."""
    totp = scan(driver.start_app_registration().uri)
    settle_in_step(target, needed_seconds=2 * target.margin_seconds)
    step = step_of(target)
    registered = driver.register_app(code_for_step(totp, step))
    _require(registered.ok, "Register", registered)
    return totp, step


def logs_in_by_mail(driver: Driver) -> bool:
    """Whether the portal takes a mailed code after the password, as far as the driver knows.
    Every binding has it; a page-only portal's site map may say it has not
    (``capabilities.email_login = false``: django-allauth, whose second factor is an app only).
    A driver that does not say has it."""
    return bool(getattr(driver, "logs_in_by_mail", True))


def enrol_second_factor(target: Target) -> Enrolled:
    """An account whose login asks for a second factor this run can pass: its address, as the
    manuals' initial setup leaves it; and its app too where the portal takes no mailed code
    after the password. For checks about what any second factor does (trust, cookies, input
    errors), which would otherwise be NOT_APPLICABLE on such a portal for the driver's sake."""
    return enrol_email(target) if logs_in_by_mail(target.new_driver()) else enrol_app(target)


def await_unused_step(portal: Target, enrolled: Enrolled) -> None:
    """For an account with an app: wait until a step that no code used has begun, with time
    left in it for a submission. A timed check calls it before it starts the clock on
    :func:`pass_second_factor`, which then waits no more. Nothing for the mailed code."""
    if enrolled.totp is not None:
        wait_for_step(portal, max(enrolled.registered_step, enrolled.used_step or 0) + 1)
        settle_in_step(portal, needed_seconds=2 * portal.margin_seconds)


def pass_second_factor(
    portal: Target,
    enrolled: Enrolled,
    driver: Driver,
    *,
    trust: bool = False,
    requirement: str = "SECOND_FACTOR_REQUIRED",
) -> None:
    """The second factor for a browser that gave the password: the mailed code, or, for an
    account :func:`enrol_second_factor` gave an app, the app's code of a step no code used yet.
    A refusal FAILs ``requirement``: the rule that says this code must pass here."""
    if enrolled.totp is None:
        second_factor_by_mail(portal, enrolled, driver, trust=trust, requirement=requirement)
        return
    await_unused_step(portal, enrolled)
    submitted = driver.submit_app_code(app_code_now(portal, enrolled), trust_browser=trust)
    expect(submitted.ok, requirement, f"the app's code was refused: {submitted.error}")


def app_code_now(portal: Target, enrolled: Enrolled) -> str:
    """The app's code of the portal's current step, which is then the step last used
    (``Enrolled.used_step``): the next code :func:`await_unused_step` allows is of a later one."""
    assert enrolled.totp is not None, "an account with an app"
    enrolled.used_step = step_of(portal)
    return code_for_step(enrolled.totp, enrolled.used_step)


def step_of(target: Target, at: float | None = None) -> int:
    return step_at(target.profile, target.clock.now() if at is None else at)


def settle_in_step(target: Target, needed_seconds: float = 0.0) -> None:
    """:func:`actions.settle_in_step` on the target's clock, with its margin."""
    actions.settle_in_step(target.clock, target.profile, target.margin_seconds, needed_seconds)


def wait_for_step(target: Target, step: int) -> None:
    """Let time pass (virtually, or really) until ``step`` has begun, plus the margin.

    An app's registration code uses up its step, so probes that submit codes must wait for
    later steps first. In real time this is the harness's longest wait: up to a few periods.
    """
    start = step * target.profile.totp_period_seconds + target.margin_seconds
    now = target.clock.now()
    if now < start:
        with waits.waiting_for("next unused TOTP step"):
            target.clock.advance(start - now)


def code_for_step(totp: pyotp.TOTP, step: int) -> str:
    """The app's code for ``step``; the evidence shows its offset from the portal's step."""
    return totp_code(totp, step)


def second_factor_by_mail(
    portal: Target,
    enrolled: Enrolled,
    driver: Driver,
    *,
    trust: bool = False,
    requirement: str = "SECOND_FACTOR_REQUIRED",
) -> None:
    """The mailed code, which must be accepted: a refusal FAILs ``requirement``."""
    address = enrolled.account.address or ""
    _, submitted = by_mail(driver, portal.inbox, portal.clock, portal.profile, address, trust=trust)
    expect(submitted.ok, requirement, f"the mailed code was refused: {submitted.error}")


def reset_by_mail(portal: Target, enrolled: Enrolled) -> Driver:
    """ "Click here For Initial Setup or Setup Again", "Initialize", the mailed code, "Confirm"
    (with ``reset.mode = "link"``: the mailed link, protocol.md §19)."""
    if portal.profile.reset_mode == "link":
        return reset_by_link(portal, enrolled.account, enrolled.driver)
    p, address = portal.profile, enrolled.account.address or ""
    driver = enrolled.driver
    expect(driver.login_for_setup(enrolled.account).ok, "RESET_REAUTHENTICATE", "the reset login was refused")
    since = portal.clock.now()
    expect(driver.initialize().ok, "RESET_CONFIRMATION_MAIL", "Initialize was refused")
    code = mailed_code(portal.inbox, address, p.mail_subject_reset, since, p.confirmation_code_digits)
    confirmed = driver.confirm_reset(code)
    expect(
        confirmed.ok,
        "RESET_CONFIRMATION_MAIL",
        f"the mailed confirmation code was refused: {confirmed.error}",
    )
    return driver
