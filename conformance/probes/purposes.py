"""Each kind of code offered where another kind is expected: the cross-purpose matrix
[CODE_BOUND_TO_PURPOSE].

A portal that keeps "the account's current code" instead of a code per purpose accepts an
email-login code at a reset's "Confirm" (issue #18 measured one). Every cell of the matrix is one
account and two browsers: one at the *place* that expects a code of its own kind (with that
code pending where the place has one, so that a portal keeping one code per account is tried
too), one that has a live, unused code of another *kind* issued after the place was prepared;
the code of the kind is then typed at the place. The checks judge the answer. Every mail goes
to the account's one address: an address code is "Send One-Time Password" for the registered
address again, which §7 allows, so that a portal changing addresses early (another rule) does
not move the other codes' mail.

A kind whose codes have a different number of digits than the place's field cannot be told
from a typo there (§12.1 refuses it as input), so the profile rules that cell out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import pyotp

from ninsho.conformance.actions import mailed_code, scan
from ninsho.conformance.errors import NotApplicable, expect
from ninsho.conformance.interfaces import Driver, DriverError, Outcome
from ninsho.conformance.probes.enrol import (
    Enrolled,
    code_for_step,
    enrol_app,
    enrol_email,
    second_factor_by_mail,
    settle_in_step,
    step_of,
    wait_for_step,
)
from ninsho.conformance.target import Target
from ninsho.spec.profile import Profile


class Kind(StrEnum):
    """A kind of code, and the place that expects it."""

    EMAIL_LOGIN = "email-login"  # the second factor by mail (§4.3)
    ADDRESS = "address"  # "Confirm" of an address (§7)
    RESET = "reset"  # "Confirm" of a reset (§9.4)
    APP_REGISTRATION = "app-registration"  # "Register" of a pending app secret (§8)
    APP_LOGIN = "app-login"  # the second factor by app (§4.2)

    @property
    def totp(self) -> bool:
        return self in (Kind.APP_REGISTRATION, Kind.APP_LOGIN)

    def digits(self, profile: Profile) -> int:
        if self.totp:
            return profile.totp_digits
        return profile.confirmation_code_digits if self is Kind.RESET else profile.email_otp_digits


CELLS: tuple[tuple[Kind, Kind], ...] = tuple(
    (kind, place) for kind in Kind for place in Kind if kind != place
)


@dataclass(frozen=True)
class Offered:
    """A code of ``kind`` typed where ``place`` expects its own: the portal's answer."""

    kind: Kind
    place: Kind
    answer: Outcome

    def __str__(self) -> str:
        told = "accepted" if self.answer.ok else f"refused ({self.answer.error})"
        return f"a live {self.kind} code typed at the {self.place} place: {told}"


def offer_in_place(portal: Target, kind: Kind, place: Kind) -> Offered:
    """Prepare ``place``, issue a code of ``kind``, type it at ``place``."""
    p = portal.profile
    if Kind.RESET in (kind, place) and p.reset_mode == "link":
        raise NotApplicable(
            "under this profile the reset is by link (reset.mode = link, §19): it has no code"
        )
    if kind.digits(p) != place.digits(p):
        raise NotApplicable(
            f"under this profile {kind} codes have {kind.digits(p)} digits and the {place} field takes"
            f" {place.digits(p)}: refused as input there (§12.1), so their purpose is never tried"
        )
    cell = _Cell(portal, enrol_app(portal) if Kind.APP_LOGIN in (kind, place) else enrol_email(portal))
    issuer = cell.issuer(kind)  # its session first: a login there may not disturb the place
    at_place = cell.place(place)
    code = issuer()
    if place.totp and not kind.totp:
        # A mailed code is not tied to a step, but the field is: typed across a step boundary, a
        # driver that watches steps (privacyIDEA's) cannot tell which step judged it.
        settle_in_step(portal, needed_seconds=2 * portal.margin_seconds)
    return Offered(kind, place, at_place(code))


@dataclass
class _Cell:
    portal: Target
    enrolled: Enrolled

    @property
    def address(self) -> str:
        return self.enrolled.account.address or ""

    # --- sessions ----------------------------------------------------------------------------
    def first_factor(self) -> Driver:
        driver = self.portal.browser()
        login = driver.login(self.enrolled.account)
        expect(
            login.ok and login.stage == "first_factor", "SECOND_FACTOR_REQUIRED", f"login gave {login.stage}"
        )
        return driver

    def signed_in(self) -> Driver:
        driver = self.first_factor()
        self.gap()
        second_factor_by_mail(self.portal, self.enrolled, driver)
        return driver

    def in_reset(self) -> Driver:
        driver = self.portal.browser()
        expect(
            driver.login_for_setup(self.enrolled.account).ok, "RESET_REAUTHENTICATE", "reset login refused"
        )
        return driver

    def gap(self) -> None:
        """Time between two mails to one address, so that the mailbox tells them apart."""
        self.portal.clock.advance(self.portal.margin_seconds)

    # --- each kind: its session, what has the portal issue its code, where it is typed -----------
    def session(self, kind: Kind) -> Driver:
        """A browser at the stage where codes of ``kind`` are issued and typed."""
        if kind in (Kind.EMAIL_LOGIN, Kind.APP_LOGIN):
            return self.first_factor()
        return self.in_reset() if kind is Kind.RESET else self.signed_in()

    def send(self, driver: Driver, kind: Kind) -> Callable[[], Outcome]:
        """The user action that mails a code of a mailed ``kind``."""
        if kind is Kind.EMAIL_LOGIN:
            return driver.request_email_code
        if kind is Kind.ADDRESS:
            return lambda: driver.register_email(self.address)
        return driver.initialize

    @staticmethod
    def typed(driver: Driver, kind: Kind) -> Callable[[str], Outcome]:
        """Where a code of ``kind`` is typed."""
        return {
            Kind.EMAIL_LOGIN: driver.submit_email_code,
            Kind.ADDRESS: driver.confirm_email,
            Kind.RESET: driver.confirm_reset,
            Kind.APP_REGISTRATION: driver.register_app,
            Kind.APP_LOGIN: driver.submit_app_code,
        }[kind]

    # --- the code of a kind, issued in a session of its own -------------------------------------
    def issuer(self, kind: Kind) -> Callable[[], str]:
        """Open the session the code of ``kind`` is issued in; the returned call issues it."""
        if kind is Kind.APP_LOGIN:
            return self.app_login_code  # computed by the app: no session issues it
        driver = self.session(kind)
        if kind is Kind.APP_REGISTRATION:
            return lambda: self.current_code(scan(driver.start_app_registration().uri))
        return lambda: self.mailed(self.send(driver, kind), kind)

    def mailed(self, send: Callable[[], Outcome], kind: Kind) -> str:
        p = self.portal.profile
        self.gap()
        since = self.portal.clock.now()
        answer = send()
        if not answer.ok or answer.data.get("mailed") is False:
            raise DriverError(f"set-up failed: no {kind} code was mailed to {self.address}: {answer.error}")
        subject = p.mail_subject_reset if kind is Kind.RESET else p.mail_subject_otp
        return mailed_code(self.portal.inbox, self.address, subject, since, kind.digits(p))

    def current_code(self, totp: pyotp.TOTP) -> str:
        settle_in_step(self.portal, needed_seconds=2 * self.portal.margin_seconds)
        return code_for_step(totp, step_of(self.portal))

    def app_login_code(self) -> str:
        """The registered app's code of a step its registration did not use."""
        assert self.enrolled.totp is not None
        wait_for_step(self.portal, self.enrolled.registered_step + 1)
        return self.current_code(self.enrolled.totp)

    # --- the place that expects a code of its own kind ------------------------------------------
    def place(self, place: Kind) -> Callable[[str], Outcome]:
        """Bring a browser to ``place``, with its own code pending; the returned call types a code."""
        driver = self.session(place)
        if place is Kind.APP_REGISTRATION:
            driver.start_app_registration()
        elif not place.totp:
            self.gap()
            answer = self.send(driver, place)()
            if not answer.ok:
                raise DriverError(
                    f"set-up failed: the {place} place would not issue its own code: {answer.error}"
                )
        return self.typed(driver, place)
