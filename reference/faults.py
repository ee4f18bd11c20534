"""Deliberately faulty portals: the reference with one rule broken, to prove the harness.

A conformance suite is only as good as the faults it catches. Each fault here is a mistake real
portals make; the project's tests run the harness against each and require a FAIL on exactly
the requirement the fault breaks (and no FAIL elsewhere). ``ninsho serve --fault NAME`` serves
one over HTTP. Never deploy these.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ninsho.reference.core import addresses
from ninsho.reference.core.errors import AccountLocked, BlockedAddress, CodeRejected
from ninsho.reference.core.portal import Portal, Verified
from ninsho.reference.core.rules import Rules
from ninsho.reference.core.state import AccountState, AppRegistration, IssuedCode, Purpose
from ninsho.reference.embedded import Embedded, embedded_portal
from ninsho.spec.profile import Profile


class _NoReplayProtection(Rules):
    def accept_step(self, app: AppRegistration, step: int) -> bool:
        app.last_step = step
        return True


class _EndswithDomainCheck(Rules):
    """``domain.endswith("kyoto-u.ac.jp")``: refuses notkyoto-u.ac.jp, a lookalike."""

    def check_address(self, raw: str) -> str:
        address = super().check_address(raw)
        if any(address.lower().endswith(b) for b in self.profile.email_blocked_domains):
            raise BlockedAddress("blocked (endswith)", requirement="EMAIL_BLOCKED_DOMAIN", field="address")
        return address


class _CaseSensitiveDomainCheck(Rules):
    """Compares the domain as typed: ``taro@KYOTO-U.AC.JP`` slips through."""

    def check_address(self, raw: str) -> str:
        address = addresses.normalize(raw)  # syntax is checked properly...
        typed = unicodedata.normalize("NFKC", raw.strip(addresses.WHITE_SPACE)).rpartition("@")[2].rstrip(".")
        p = self.profile  # ...but the blocked list is compared with the domain as typed
        if typed in p.email_blocked_domains or any(typed.endswith("." + b) for b in p.email_blocked_domains):
            raise BlockedAddress(
                "blocked (case-sensitive)", requirement="EMAIL_BLOCKED_DOMAIN", field="address"
            )
        return str(address)


class _NoExpiry(Rules):
    """Checks that the code matches and is unused, never how old it is."""

    def refusal_reason(self, issued: IssuedCode, now: float) -> str | None:
        return "used" if issued.used else None


class _RegisterWithoutCode(Rules):
    """ "Register" takes any well-formed code: scanning alone effectively registers."""

    def register_app(
        self, state: AccountState, code: str, now: float, app_id: str
    ) -> AppRegistration | CodeRejected | AccountLocked:
        if state.pending_app_secret_hex is None:
            return super().register_app(state, code, now, app_id)
        app = AppRegistration(app_id, state.pending_app_secret_hex, now)
        state.apps.append(app)
        state.pending_app_secret_hex = None
        return app


class _NoLockout(Rules):
    def record_failure(self, state: AccountState, now: float) -> None:
        state.failures += 1


RACE_WINDOW_SECONDS = 0.05  # the gap a real check-then-write leaves open


class _RacyPortal(Portal):
    """Check, then write, in two steps: concurrent submissions of one code all pass the check."""

    def verify_app_code(self, session: str, code: str, *, trust_browser: bool = False) -> Verified:
        login_id = self._split(session)[0]
        snapshot = self.store.load(login_id)
        fresh = snapshot is not None and any(
            (step := self.rules.totp_step(bytes.fromhex(a.secret_hex), code, self.clock.now())) is not None
            and (a.last_step is None or step > a.last_step)
            for a in snapshot.apps
        )
        time.sleep(RACE_WINDOW_SECONDS)
        if not fresh:
            return super().verify_app_code(session, code, trust_browser=trust_browser)

        def accept(state: AccountState, s: Any, now: float) -> Verified | AccountLocked:
            locked = self.rules.lock_refusal(state, now)
            if locked:
                return locked  # the race is the fault; the lockout still holds
            for app in state.apps:
                step = self.rules.totp_step(bytes.fromhex(app.secret_hex), code, now)
                if step is not None:
                    app.last_step = step
            return self._pass(state, s, now, trust_browser)

        return self._act(session, ("first_factor",), accept)  # type: ignore[arg-type]


class _CrashOnLostRace(Portal):
    """Check the mailed code, then use it, in two steps; a submission that passed the check and
    then finds the code used crashes, as an insert does on a unique key. Single use holds, but
    the losers get a 500 instead of a refusal (privacyIDEA's email token, measured)."""

    def verify_email_code(self, session: str, code: str, *, trust_browser: bool = False) -> Verified:
        snapshot = self.store.load(self._split(session)[0])  # a copy: what the check does to it is not kept
        passed = snapshot is not None and isinstance(
            self.rules.consume_code(snapshot, Purpose.LOGIN, code, self.clock.now()), IssuedCode
        )
        time.sleep(RACE_WINDOW_SECONDS)
        try:
            return super().verify_email_code(session, code, trust_browser=trust_browser)
        except CodeRejected:
            if passed:
                raise RuntimeError("UNIQUE constraint failed: used_codes.code") from None
            raise


@dataclass(frozen=True)
class Fault:
    description: str
    breaks: tuple[str, ...]  # the requirements the harness must FAIL
    profile_changes: dict[str, Any]
    rules: type[Rules] = Rules
    portal: type[Portal] = Portal

    def profile_for(self, profile: Profile) -> Profile:
        return profile.replace(**self.profile_changes)

    def build(self, profile: Profile, **kwargs: Any) -> Embedded:
        return embedded_portal(
            self.profile_for(profile), rules=self.rules, portal_class=self.portal, **kwargs
        )


FAULTS: dict[str, Fault] = {
    "wide-window": Fault(
        "accepts TOTP steps −3…+3",
        ("TOTP_WINDOW",),
        {"totp_window_past_steps": 3, "totp_window_future_steps": 3},
    ),
    "no-replay-protection": Fault(
        "accepts a TOTP step again", ("TOTP_REPLAY",), {}, rules=_NoReplayProtection
    ),
    "replay-race": Fault("checks, then records, the TOTP step", ("TOTP_REPLAY",), {}, portal=_RacyPortal),
    "crash-on-lost-race": Fault(
        "checks, then uses, a mailed code; the loser of a race crashes (500)",
        ("EMAIL_OTP_SINGLE_USE",),
        {},
        portal=_CrashOnLostRace,
    ),
    "no-expiry": Fault(
        "mailed codes never expire", ("EMAIL_OTP_LIFETIME", "RESET_CODE_LIFETIME"), {}, rules=_NoExpiry
    ),
    "long-expiry": Fault(
        "mailed codes live 15 minutes", ("EMAIL_OTP_LIFETIME",), {"email_otp_lifetime_seconds": 900}
    ),
    "resend-keeps-old-code": Fault(
        "a resend leaves the old code valid", ("RESEND_VOIDS_PREVIOUS",), {"resend_voids_previous": False}
    ),
    "resend-resets-failures": Fault(
        "a resend resets the failure count",
        ("RESEND_KEEPS_FAILURE_COUNT",),
        {"resend_keeps_failure_count": False},
    ),
    "endswith-domain-check": Fault(
        "blocks by endswith", ("EMAIL_LOOKALIKE_ACCEPTED",), {}, rules=_EndswithDomainCheck
    ),
    "case-sensitive-domain-check": Fault(
        "blocks only the lower-case domain",
        ("EMAIL_BLOCKED_DOMAIN", "EMAIL_BLOCKED_SUBDOMAIN"),
        {},
        rules=_CaseSensitiveDomainCheck,
    ),
    "two-addresses": Fault("keeps two addresses", ("EMAIL_SINGLE_ADDRESS",), {"email_max_addresses": 2}),
    "register-without-code": Fault(
        "registers the app with any code", ("APP_REGISTER_REQUIRES_CODE",), {}, rules=_RegisterWithoutCode
    ),
    "reset-keeps-apps": Fault(
        "a reset keeps the old app secrets", ("RESET_VOIDS_APPS",), {"reset_voids_apps": False}
    ),
    "no-lockout": Fault(
        "never locks",
        ("LOCKOUT_THRESHOLD", "LOCKOUT_DURATION", "RESEND_KEEPS_FAILURE_COUNT"),
        {},
        rules=_NoLockout,
    ),
}

FaultFactory = Callable[[Profile], Embedded]


def faulty_portal(name: str) -> FaultFactory:
    fault = FAULTS[name]
    return lambda profile: fault.build(profile)
