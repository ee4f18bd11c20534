"""Deliberately faulty portals: the reference with one rule broken, to prove the harness.

A conformance suite is only as good as the faults it catches. Each fault here is a mistake real
portals make; the project's tests run the harness against each and require a FAIL on exactly
the requirement the fault breaks (and no FAIL elsewhere). ``ninsho serve --fault NAME`` serves
one over HTTP; ``faulty_portal(NAME)`` embeds one. Never deploy these.

This registry is the one way to make a faulty portal. A fault is data, a change to the profile
the portal runs with, or a small subclass through the public seams only: a
:class:`~ninsho.reference.core.rules.Rules` method, or :meth:`Portal.transaction
<ninsho.reference.core.portal.Portal.transaction>`, the hook around each session action.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ninsho.reference.core import addresses
from ninsho.reference.core.errors import AccountLocked, BlockedAddress, CodeRejected, NinshoError
from ninsho.reference.core.passwords import PasswordHasher
from ninsho.reference.core.portal import Portal
from ninsho.reference.core.ports import Clock, Mailer, RandomSource, Store
from ninsho.reference.core.rules import Rules
from ninsho.reference.core.stages import Action
from ninsho.reference.core.state import AccountState, AppRegistration, IssuedCode
from ninsho.reference.embedded import Embedded, embedded_portal
from ninsho.spec.profile import Profile

T = TypeVar("T")


# --- broken rules ----------------------------------------------------------------------------
class _NoReplayProtection(Rules):
    def accept_step(self, app: AppRegistration, step: int) -> bool:
        app.last_step = step
        return True


class _NoSingleUse(Rules):
    """Checks that a code matches and is current, never whether it was used: neither a mailed
    code nor a TOTP step is single use."""

    def refusal_reason(self, issued: IssuedCode, now: float) -> str | None:
        return "expired" if now >= issued.expires_at else None

    def accept_step(self, app: AppRegistration, step: int) -> bool:
        return True


class _NoBlockedDomains(Rules):
    """Checks the address's syntax, and forgets the blocked domains."""

    def check_address(self, raw: str) -> str:
        return str(addresses.normalize(raw))


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


class _ReplaysCount(Rules):
    def counts_as_failure(self, reason: str) -> bool:
        return True


class _NoLockout(Rules):
    def record_failure(self, state: AccountState, now: float) -> None:
        state.failures += 1


# --- broken atomicity: check, then write -------------------------------------------------------
RACE_WINDOW_SECONDS = 0.05  # the gap a real check-then-write leaves open


class _RacyPortal(Portal):
    """Checks the TOTP step against the account as it was read before a pause, then records it:
    concurrent submissions of one code all pass the replay check."""

    def transaction(self, action: Action, login_id: str, change: Callable[[AccountState], T]) -> T:
        if action is not Action.SUBMIT_APP_CODE:
            return super().transaction(action, login_id, change)
        read = self.store.load(login_id)
        time.sleep(RACE_WINDOW_SECONDS)
        seen = {app.app_id: app.last_step for app in read.apps} if read is not None else {}

        def stale(state: AccountState) -> T:
            for app in state.apps:  # the replay check sees the last steps as they were read
                app.last_step = seen.get(app.app_id, app.last_step)
            return change(state)

        return super().transaction(action, login_id, stale)


class _CrashOnLostRace(Portal):
    """Checks the mailed code, then uses it, in two steps; a submission that passed the check and
    then finds the code used crashes, as an insert does on a unique key. Single use holds, but
    the losers get a 500 instead of a refusal (privacyIDEA's email token, measured)."""

    def transaction(self, action: Action, login_id: str, change: Callable[[AccountState], T]) -> T:
        if action is not Action.SUBMIT_EMAIL_CODE:
            return super().transaction(action, login_id, change)
        read = self.store.load(login_id)  # a copy: what the check does to it is not kept
        passed = read is not None and _accepts(change, read)
        time.sleep(RACE_WINDOW_SECONDS)
        outcome = super().transaction(action, login_id, change)
        if passed and isinstance(outcome, CodeRejected):
            raise RuntimeError("UNIQUE constraint failed: used_codes.code")
        return outcome


def _accepts(change: Callable[[AccountState], object], state: AccountState) -> bool:
    """Whether ``change`` would accept on ``state``: it neither raises nor returns a refusal."""
    try:
        return not isinstance(change(state), NinshoError)
    except NinshoError:
        return False


# --- the registry ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    """One faulty portal: what it breaks, and how it is made (profile changes, broken rules, or a
    portal that overrides the public :meth:`~ninsho.reference.core.portal.Portal.transaction`)."""

    description: str
    breaks: tuple[str, ...]  # the requirements the harness must FAIL
    profile_changes: dict[str, Any] = field(default_factory=dict)
    rules: type[Rules] = Rules
    portal: type[Portal] = Portal

    def profile_for(self, profile: Profile) -> Profile:
        """The profile the faulty portal runs with (the harness still judges by ``profile``)."""
        return profile.replace(**self.profile_changes)

    def make_portal(
        self,
        profile: Profile,
        store: Store,
        mailer: Mailer,
        clock: Clock,
        random: RandomSource,
        *,
        pepper: bytes,
        hasher: PasswordHasher | None = None,
    ) -> Portal:
        """The faulty portal on the given ports, made as ``Portal(...)`` makes the correct one
        (an :class:`~ninsho.reference.embedded.PortalMaker`): the embedded portal and
        ``ninsho serve --fault`` are both made here."""
        return self.portal(
            self.profile_for(profile),
            store,
            mailer,
            clock,
            random,
            pepper=pepper,
            hasher=hasher,
            rules=self.rules,
        )

    def build(self, profile: Profile, **kwargs: Any) -> Embedded:
        """An embedded portal with this fault (``kwargs`` as for ``embedded_portal``)."""
        return embedded_portal(profile, make_portal=self.make_portal, **kwargs)


FAULTS: dict[str, Fault] = {
    "wide-window": Fault(
        "accepts TOTP steps −3…+3",
        ("TOTP_WINDOW",),
        {"totp_window_past_steps": 3, "totp_window_future_steps": 3},
    ),
    "no-replay-protection": Fault("accepts a TOTP step again", ("TOTP_REPLAY",), rules=_NoReplayProtection),
    "replay-race": Fault("checks, then records, the TOTP step", ("TOTP_REPLAY",), portal=_RacyPortal),
    "crash-on-lost-race": Fault(
        "checks, then uses, a mailed code; the loser of a race crashes (500)",
        ("EMAIL_OTP_SINGLE_USE",),
        portal=_CrashOnLostRace,
    ),
    "no-single-use": Fault(
        "accepts a used mailed code, and a TOTP step again",
        ("TOTP_REPLAY", "EMAIL_OTP_SINGLE_USE"),  # a confirmed reset voids every code anyway
        rules=_NoSingleUse,
    ),
    "no-expiry": Fault(
        "mailed codes never expire", ("EMAIL_OTP_LIFETIME", "RESET_CODE_LIFETIME"), rules=_NoExpiry
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
    "no-blocked-domains": Fault(
        "registers an address in a blocked domain",
        ("EMAIL_BLOCKED_DOMAIN", "EMAIL_BLOCKED_SUBDOMAIN"),
        rules=_NoBlockedDomains,
    ),
    "endswith-domain-check": Fault(
        "blocks by endswith", ("EMAIL_LOOKALIKE_ACCEPTED",), rules=_EndswithDomainCheck
    ),
    "case-sensitive-domain-check": Fault(
        "blocks only the lower-case domain",
        ("EMAIL_BLOCKED_DOMAIN", "EMAIL_BLOCKED_SUBDOMAIN"),
        rules=_CaseSensitiveDomainCheck,
    ),
    "two-addresses": Fault("keeps two addresses", ("EMAIL_SINGLE_ADDRESS",), {"email_max_addresses": 2}),
    "register-without-code": Fault(
        "registers the app with any code", ("APP_REGISTER_REQUIRES_CODE",), rules=_RegisterWithoutCode
    ),
    "reset-keeps-apps": Fault(
        "a reset keeps the old app secrets", ("RESET_VOIDS_APPS",), {"reset_voids_apps": False}
    ),
    "replays-count": Fault(
        "counts a used code sent again as a failed attempt", ("REPLAY_NOT_COUNTED",), rules=_ReplaysCount
    ),
    "no-lockout": Fault(
        "never locks",
        ("LOCKOUT_THRESHOLD", "LOCKOUT_DURATION", "RESEND_KEEPS_FAILURE_COUNT"),
        rules=_NoLockout,
    ),
}

FaultFactory = Callable[[Profile], Embedded]


def faulty_portal(name: str) -> FaultFactory:
    """A factory of embedded portals with the fault ``name``: ``(profile) -> Embedded``."""
    fault = FAULTS[name]
    return lambda profile: fault.build(profile)
