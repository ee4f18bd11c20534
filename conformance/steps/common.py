"""What one scenario remembers between its steps, and the helpers every step module shares.

Steps talk to the portal only through the fixtures ``driver``, ``operator``, ``mailbox``,
``portal_clock`` and ``profile``; the scenario's own memory (the account, the last answer, the
copied code, the user's authenticator app) lives in :class:`World`, a plain fixture of this
package. Assertion messages say what the manual expected, then what the portal did, and
each failure names the one requirement it checks (:func:`fail`), so that a scenario tagged with
many IDs FAILs only the broken one; a step shared by scenarios about different rules finds its
requirement among the scenario's tags (:func:`tagged`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, NoReturn, TypeVar

import pyotp
import pytest

from ninsho.conformance import actions
from ninsho.conformance.actions import scan, second_factor_by_mail, settle_in_step, wrong_code
from ninsho.conformance.actions import step_at as totp_step
from ninsho.conformance.errors import RequirementFailed
from ninsho.conformance.interfaces import Account, Clock, Driver, Mail, Mailbox, Outcome, Provisioning
from ninsho.conformance.markers import requirement_ids
from ninsho.conformance.timing import margin_for
from ninsho.conformance.waits import waiting_for

if TYPE_CHECKING:
    from ninsho.spec.address_vectors import AddressCase
    from ninsho.spec.profile import Profile

T = TypeVar("T")

# The errors that mean "this code was not accepted" rather than "the page timed out" or "bad input".
CODE_REFUSALS = ("code_rejected", "account_locked")


@dataclass
class World:
    """The user's side of one scenario: what they know, hold and last saw."""

    account: Account | None = None
    browser: Driver | None = None  # set when the scenario switches to another browser
    outcome: Outcome | None = None  # the portal's latest answer
    login_outcome: Outcome | None = None  # the answer of the latest password login
    entry: str = "login"  # how this browser came in last: "login" or "setup" (③④)
    setup_link_clicked: bool = False
    registered_address: str | None = None  # the address for email-authentication, as registered
    old_address: str | None = None  # the one it replaced
    mail_to: str | None = None  # where the latest action should have mailed a code
    mail: Mail | None = None
    code: str | None = None  # the code copied from the latest mail or read out by the helpdesk
    earlier_code: str | None = None  # the code copied before it
    code_kind: str = "otp"  # "otp" (a one-time password) or "reset" (a confirmation code)
    # A code is issued between these two instants: the request went out at code_requested_at
    # (mail from then on is the code's), the answer came back at code_issued_at. Over HTTP on a
    # running clock they differ by the round trip, and an age is measured from whichever bound
    # makes its verdict certain (see age_passes).
    code_requested_at: float = 0.0
    code_issued_at: float = 0.0
    code_purpose: str = "login"  # what the code is for: "login", "register" or "reset"
    session_started_at: float = 0.0  # when this browser's latest password login happened
    code_age: float | None = None
    last_submitted: tuple[str, str] | None = None  # ("app" | "email", code) last typed at login
    provisioning: Provisioning | None = None
    app: pyotp.TOTP | None = None  # the Authenticator app's current entry
    old_apps: list[pyotp.TOTP] = field(default_factory=list)  # entries from earlier registrations
    last_app_step: int | None = None  # the newest TOTP step this scenario has submitted
    device_error_seconds: float = 0.0  # how far the device clock is off
    margin_seconds: float = 1.0  # how far from a time boundary to act (the run's, fixtures.margin_seconds)
    offset_steps: int = 0
    address_case: AddressCase | None = None
    answers: list[Outcome] = field(default_factory=list)  # answers to compare with each other


@pytest.fixture
def world(margin_seconds: float) -> World:
    """A blank memory for each scenario, with the run's margin from a time boundary."""
    return World(margin_seconds=margin_seconds)


def fail(requirement: str | None, message: str) -> NoReturn:
    """The portal did not do what the manual says: a FAIL of ``requirement`` alone
    (:class:`~ninsho.conformance.errors.RequirementFailed`, an AssertionError), so that a scenario
    tagged with many IDs does not fail them all for one broken rule. ``None`` (from
    :func:`tagged`, when the scenario's tags do not say) is a plain AssertionError: a FAIL of
    every ID the scenario is tagged with. ``pytest.fail`` is kept for a feature or harness
    mistake (an ERROR), and so is an ID that is not in the registry."""
    if requirement is None:
        raise AssertionError(message)
    if requirement not in _registered():
        pytest.fail(f"a step names {requirement!r}, which is not in spec/requirements.toml")
    raise RequirementFailed(requirement, message)


@cache
def _registered() -> frozenset[str]:
    return frozenset(requirement_ids())


# What a shared step expects → the requirements a failure of it can be about, in the scenarios
# that use it. "Then I am logged in" ends scenarios about the second-factor methods, the TOTP
# window and the lockout; which one a failure is about, only the scenario's tags can say. A
# scenario tagged with none of an expectation's candidates (a wrong confirmation code refused,
# say, which no requirement states by itself) or with several FAILs all its tags.
CANDIDATES: dict[str, tuple[str, ...]] = {
    # a right code (or the lock lifting) lets the user in
    "code accepted": ("SECOND_FACTOR_METHODS", "TOTP_WINDOW", "LOCKOUT_DURATION"),
    # a code that must not pass is refused, as a code
    "code refused": (
        "TOTP_WINDOW",
        "TOTP_REPLAY",
        "EMAIL_OTP_SINGLE_USE",
        "RESEND_VOIDS_PREVIOUS",
        "EMAIL_OTP_LIFETIME",
        "RESET_CODE_LIFETIME",
    ),
    # after the password, the portal asks for the second factor
    "second factor asked": (
        "SECOND_FACTOR_REQUIRED",
        "SECOND_FACTOR_METHODS",
        "TRUST_BROWSER",
        "TRUST_BROWSER_EXPIRY",
        "TRUST_BROWSER_REVOKED_BY_RESET",
    ),
    # a trusted browser skips the second factor
    "second factor skipped": ("TRUST_BROWSER", "TRUST_BROWSER_EXPIRY"),
    # the session has ended: the settings want a login again
    "logged out": ("LOGOUT", "SESSION_EXPIRY"),
    # an account with no confirmed factor logs in to the initial setup
    "straight to setup": ("EMAIL_REGISTRATION_CONFIRM", "SETUP_WITHOUT_FACTOR"),
}


def tagged(request: pytest.FixtureRequest, expectation: str, untagged: str | None = None) -> str | None:
    """The requirement a failure of a shared step names: the one candidate of
    ``CANDIDATES[expectation]`` that the scenario is tagged with. Several: ``None``, and
    :func:`fail` FAILs every tag rather than guess. None of them: ``untagged``, where the
    failure itself says which rule broke whatever the scenario is about (a login let in on the
    password alone is SECOND_FACTOR_REQUIRED's, not the Logout scenario's that met it), else
    ``None`` as well. (pytest-bdd gives a step the scenario's own ``request``; its tags are the
    item's markers.)"""
    tags = {marker.name for marker in request.node.iter_markers()}
    found = [rid for rid in CANDIDATES[expectation] if rid in tags]
    if not found:
        return untagged
    return found[0] if len(found) == 1 else None


def quiet_mark(portal_clock: Clock) -> float:
    """The moment from which no mail is expected. A second passes first, so that a mailbox that
    dates mail at first sight tells later mail from earlier mail even on a virtual clock that
    stands still. (Mail that *is* expected needs no mark: the newest one is read.)"""
    with waiting_for("gap between the two mails"):
        portal_clock.advance(1.0)
    return portal_clock.now()


def need(value: T | None, what: str) -> T:
    """A value an earlier step should have produced; a missing one is a feature-writing error."""
    if value is None:
        pytest.fail(f"no {what} yet: the feature lacks a step that provides it before this one")
    return value


def browser(world: World, driver: Driver) -> Driver:
    """The browser the user is using now."""
    return world.browser or driver


def describe(outcome: Outcome) -> str:
    text = f"error={outcome.error!r}"
    if outcome.requirement:
        text += f" [{outcome.requirement}]"
    if outcome.message_en:
        text += f" {outcome.message_en!r}"
    return text


def expect_ok(outcome: Outcome, requirement: str | None, expected: str) -> Outcome:
    if not outcome.ok:
        fail(requirement, f"{expected}; but the portal refused: {describe(outcome)}")
    return outcome


def expect_code_refused(outcome: Outcome, requirement: str | None, expected: str) -> None:
    """Refused *as a code*: a timed-out page or a typing error would not prove the rule."""
    if outcome.ok:
        fail(requirement, f"{expected}; but the portal accepted it (stage {outcome.stage!r})")
    if outcome.error not in CODE_REFUSALS:
        fail(requirement, f"{expected}; the portal refused, but not the code: {describe(outcome)}")


def settings_requirement(world: World) -> str:
    """The rule that opens the settings to this session: the set-up session after a reset
    (RESET_THEN_SETUP), the initial setup of an account with no factor (SETUP_WITHOUT_FACTOR),
    or else a login whose second factor succeeded (SECOND_FACTOR_REQUIRED)."""
    if world.entry == "setup":
        return "RESET_THEN_SETUP"
    if world.login_outcome is not None and world.login_outcome.stage == "setup":
        return "SETUP_WITHOUT_FACTOR"
    return "SECOND_FACTOR_REQUIRED"


def plus_address(address: str, tag: str) -> str:
    """Another inbox of the same user (subaddressing), so a test mailbox still receives it."""
    local, _, domain = address.rpartition("@")
    return f"{local}+{tag}@{domain}"


# --- the Authenticator app ---------------------------------------------------------------
def device_time(world: World, portal_clock: Clock) -> float:
    return portal_clock.now() + world.device_error_seconds


def fresh_app_code(world: World, portal_clock: Clock, profile: Profile) -> str:
    """The code the app shows now. When this scenario already typed the current step's code,
    the user waits for the app to show the next one, as anyone whose code was just used does;
    and one whose step is about to end (less than twice the run's margin left, timing.margin_for)
    too, so that it reaches the portal in the step it was made for."""
    app = need(world.app, "Authenticator app registered")
    margin = margin_for(portal_clock, world.margin_seconds)
    if world.last_app_step is not None and totp_step(profile, device_time(world, portal_clock)) <= (
        world.last_app_step
    ):
        next_start = (world.last_app_step + 1) * profile.totp_period_seconds
        with waiting_for("app's next code"):
            portal_clock.advance(next_start + margin - device_time(world, portal_clock))
    # Nor does anyone type a code whose countdown is about to end.
    settle_in_step(portal_clock, profile, margin, margin, skew=world.device_error_seconds)
    now = device_time(world, portal_clock)
    world.last_app_step = totp_step(profile, now)
    return actions.totp_code(app, int(now) // int(app.interval))


def wrong_app_code(world: World, portal_clock: Clock, profile: Profile) -> str:
    """A code of the right length that no step of even a wide window (±10) would produce."""
    app = need(world.app, "Authenticator app registered")
    return wrong_code(app, totp_step(profile, device_time(world, portal_clock)), spread=10)


# --- composite user actions that Given steps and ⑩-style checks reuse ----------------------
def pass_second_factor(
    world: World,
    driver: Driver,
    mailbox: Mailbox,
    portal_clock: Clock,
    profile: Profile,
    *,
    trust: bool = False,
) -> Outcome:
    """The second factor the account has: the app if registered, else a code by email."""
    b = browser(world, driver)
    if world.app is not None:
        code = fresh_app_code(world, portal_clock, profile)
        world.last_submitted = ("app", code)
        return b.submit_app_code(code, trust_browser=trust)
    address = need(world.registered_address, "registered address for email-authentication")
    code, outcome = second_factor_by_mail(b, mailbox, portal_clock, profile, address, trust=trust)
    world.last_submitted = ("email", code)
    return outcome


def sign_in(world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile) -> Outcome:
    """Log in as far as the settings: password, then the second factor if one is asked."""
    account = need(world.account, "account")
    b = browser(world, driver)
    outcome = expect_ok(
        b.login(account), "FIRST_FACTOR_PASSWORD", "the ECS-ID/SPS-ID and password should be accepted"
    )
    world.login_outcome, world.entry = outcome, "login"
    if outcome.stage == "first_factor":
        outcome = expect_ok(
            pass_second_factor(world, driver, mailbox, portal_clock, profile),
            "SECOND_FACTOR_METHODS",
            "the second factor should be accepted",
        )
    return outcome


def register_address(
    world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile, address: str
) -> None:
    """Mail tab ④–⑦, for an already signed-in browser."""
    world.registered_address = actions.register_address(
        browser(world, driver), mailbox, portal_clock, profile, address
    )


def register_app(world: World, driver: Driver, portal_clock: Clock, profile: Profile) -> None:
    """App tab ⑨–⑪, for an already signed-in browser."""
    b = browser(world, driver)
    provisioning = b.start_app_registration()
    if world.app is not None:
        world.old_apps.append(world.app)
    world.provisioning, world.app = provisioning, scan(provisioning.uri)
    world.last_app_step = None  # a new key: no step of it has been used yet
    code = fresh_app_code(world, portal_clock, profile)
    expect_ok(
        b.register_app(code),
        "APP_REGISTER_REQUIRES_CODE",
        "the current code of the scanned key should register the app",
    )


def parse_offset(text: str) -> int:
    """``-2``, ``0``, ``+1``: whole TOTP time steps."""
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        pytest.fail(f"an offset is a whole number of time steps such as -1 or +2, not {text!r}")
    return int(text)
