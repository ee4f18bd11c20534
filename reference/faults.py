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

import hmac
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ninsho.reference.core import addresses, otp
from ninsho.reference.core.errors import AccountLocked, CodeRejected, NinshoError
from ninsho.reference.core.passwords import PasswordHasher
from ninsho.reference.core.portal import LoginResult, Portal
from ninsho.reference.core.ports import Clock, Mailer, RandomSource, Store
from ninsho.reference.core.rules import Rules
from ninsho.reference.core.stages import Action
from ninsho.reference.core.state import AccountState, AppRegistration, Guard, IssuedCode, Purpose, Session
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
            raise addresses.blocked(address.rpartition("@")[2], "EMAIL_BLOCKED_DOMAIN")
        return address


class _CaseSensitiveDomainCheck(Rules):
    """Compares the domain as typed: ``taro@KYOTO-U.AC.JP`` slips through."""

    def check_address(self, raw: str) -> str:
        address = addresses.normalize(raw)  # syntax is checked properly...
        typed = unicodedata.normalize("NFKC", raw.strip(addresses.WHITE_SPACE)).rpartition("@")[2].rstrip(".")
        p = self.profile  # ...but the blocked list is compared with the domain as typed
        if typed in p.email_blocked_domains or any(typed.endswith("." + b) for b in p.email_blocked_domains):
            raise addresses.blocked(typed, "EMAIL_BLOCKED_DOMAIN")
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


class _CodeAnyPurpose(Rules):
    """Checks a mailed code against every live code of the account, whatever it was sent for
    ("the account's current code"): a login code confirms a reset, a reset code logs in."""

    def consume_code(
        self, state: AccountState, purpose: Purpose, code: str, now: float
    ) -> IssuedCode | CodeRejected | AccountLocked:
        locked = self.lock_refusal(state, now)
        if locked:
            return locked
        for issued in state.codes:
            digest = otp.code_digest(self.pepper, state.login_id, issued.purpose.value, code)
            live = self.refusal_reason(issued, now) is None
            if issued.purpose is not purpose and live and hmac.compare_digest(issued.digest, digest):
                issued.used = True
                self.record_success(state)
                return issued
        return super().consume_code(state, purpose, code, now)


class _ChangeWithoutConfirm(Rules):
    """ "Send One-Time Password" to a new address replaces a registered one at once; the code it
    mails still confirms, but decides nothing. The initial setup (no address yet) is correct."""

    def issue_code(
        self,
        state: AccountState,
        purpose: Purpose,
        code: str,
        now: float,
        address: str | None,
        *,
        resend: bool,
    ) -> None:
        super().issue_code(state, purpose, code, now, address, resend=resend)
        if purpose is Purpose.REGISTER_EMAIL and state.addresses and address is not None:
            self.register_address(state, address)


class _CountResetAtLogin(Portal):
    """A right password resets the code-failure count (a lock already set stays): whoever has
    the password logs in again between guesses, and never reaches the threshold."""

    def login(
        self, login_id: str, password: str, *, trust_token: str | None = None, client: str = ""
    ) -> LoginResult:
        result = super().login(login_id, password, trust_token=trust_token, client=client)
        self.store.transact(login_id, _forget_failures)
        return result


def _forget_failures(state: AccountState) -> None:
    state.failures = 0


class _NoPasswordThrottle(Rules):
    """Counts wrong passwords and never waits for them: 200 guesses at ten a second, then the
    right one (the reference before issue #14)."""

    def password_wait(self, guard: Guard, lane: str, now: float) -> float | None:
        return None


class _ThrottleByAccountOnly(Rules):
    """Throttles by login ID alone, every client in one count: a stranger who knows the ID
    keeps its owner out, trusted browser and all."""

    def password_lane(self, client: str, trusted_browser: str | None) -> str:
        return super().password_lane("", None)


class _MailsUnlimited(Rules):
    """Mails a code at every request: 30 requests, 30 mails in 2.8 s."""

    def mail_wait(self, guard: Guard, now: float) -> float | None:
        return None


class _NoticesUnlimited(Portal):
    """Mails the ICT Support Center at every click of "初期化" of an account with no address, as
    §12.4 had allowed: clicking on fills the center's inbox."""

    def notices_counted_as(self, login_id: str) -> str | None:
        return None


class _MailsWhileLocked(Rules):
    """Mails codes to a locked account, which cannot use them before the lock lifts."""

    def mail_refusal(self, state: AccountState, now: float) -> AccountLocked | None:
        return None


# --- sessions ----------------------------------------------------------------------------------
class _KeepsTokenAtSecondFactor(Portal):
    """The session keeps the token the password step gave it: a copy taken then is signed in
    once the owner passes the second factor (the review's finding, by cookie and by API token)."""

    def renewed_token(self, state: AccountState, s: Session) -> str | None:
        return None


class _SetupSessionsSurvive(Rules):
    """A registered factor leaves the account's other set-up sessions as they were: a second
    password login made while the account had none still registers a factor of its own."""

    def factor_registered(self, state: AccountState, by: Session) -> None:
        return None


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


# --- the 2021 portal's reset link (reset.mode = "link", protocol.md §19) -----------------------
class _LinkWorksTwice(Rules):
    """Never marks a link spent: opened again, it initializes the settings again."""

    def link_refusal(self, issued: IssuedCode, now: float) -> str | None:
        return "expired" if now >= issued.expires_at else None


class _LinkNeverExpires(Rules):
    def link_refusal(self, issued: IssuedCode, now: float) -> str | None:
        return "used" if issued.used else None


class _LinkTokenFromTheClock(Rules):
    """A link's token is the time it was issued, padded to the token's length: 43 characters,
    hardly any of them ever changing."""

    def new_link_token(self, source: RandomSource, now: float) -> str:
        return str(int(now)).zfill(43)


class _LinkWithoutPassword(Portal):
    """The link's screen asks for the password and does not check it."""

    def reauthenticate_for_link(self, login_id: str, password: str, *, client: str = "") -> None:
        self._check_login_id(login_id)


class _LinkForAnyAccount(Portal):
    """Checks the password of whoever logs in on the link's screen, then resets the account
    that holds the token, whichever it is."""

    def link_owner(self, login_id: str, token: str) -> str:
        for owner in self.store.login_ids():
            state = self.store.load(owner)
            digest = otp.code_digest(self.pepper, owner, Purpose.RESET.value, token)
            if state is not None and any(hmac.compare_digest(c.digest, digest) for c in state.codes):
                return owner
        return login_id


class _ScreenLeftWaiting(Portal):
    """The center's confirm initializes the settings, and the screen the user left open is never
    told: it waits on "An email has been sent to the ICT Support Center." for good."""

    def open_screens_move_on(self, state: AccountState, now: float) -> None:
        return None


class _NoticeToTheUser(Portal):
    """ "初期化" of an account with no address mails the notice to the address the screen shows
    (the placeholder, which no one reads) instead of the ICT Support Center."""

    def helpdesk_recipient(self, login_id: str) -> str:
        return self.profile.reset_placeholder_address


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
    # Flaws of the pages, which reference/web/pages.py looks for (the core never sees them):
    # "no-csrf", "cookie-no-httponly", "forgets-login-id".
    web: frozenset[str] = frozenset()
    # The profile under which the harness FAILs it: a fault of the reset link shows only where
    # the portal resets by link.
    proven_under: str = "iimc"

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
        return replace(embedded_portal(profile, make_portal=self.make_portal, **kwargs), flaws=self.web)


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
    "wrong-mail-subject": Fault(
        "mails one-time passwords under an English-only subject",
        ("MAIL_SUBJECT_OTP",),
        {"mail_subject_otp": "Notification of one time password"},
    ),
    "wrong-code-digits": Fault(
        "mails 6-digit one-time passwords", ("EMAIL_OTP_DIGITS",), {"email_otp_digits": 6}
    ),
    "register-without-code": Fault(
        "registers the app with any code",
        ("APP_REGISTER_REQUIRES_CODE", "CODE_BOUND_TO_PURPOSE"),  # any: the registered app's code too
        rules=_RegisterWithoutCode,
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
    "no-password-throttle": Fault(
        "never throttles password guessing", ("PASSWORD_THROTTLE",), rules=_NoPasswordThrottle
    ),
    "throttle-by-account-only": Fault(
        "throttles the password by login ID alone: a stranger keeps the owner's trusted browser out",
        ("PASSWORD_THROTTLE",),
        rules=_ThrottleByAccountOnly,
    ),
    "mail-flood": Fault(
        "mails a code at every request, without limit", ("MAIL_RATE_LIMIT",), rules=_MailsUnlimited
    ),
    "mails-while-locked": Fault(
        "mails codes to a locked account", ("MAIL_RATE_LIMIT",), rules=_MailsWhileLocked
    ),
    "count-reset-at-login": Fault(
        "a password login resets the code-failure count", ("LOCKOUT_THRESHOLD",), portal=_CountResetAtLogin
    ),
    "no-absolute-lifetime": Fault(
        "a session in use lives a year: only the idle time ends it",
        ("SESSION_ABSOLUTE_LIFETIME",),
        {"session_absolute_seconds": 366 * 24 * 3600},
    ),
    "token-kept-at-second-factor": Fault(
        "the second factor keeps the session's token",
        ("SESSION_TOKEN_RENEWED",),
        portal=_KeepsTokenAtSecondFactor,
    ),
    "setup-sessions-survive": Fault(
        "a registered factor leaves the other set-up sessions open",
        ("STALE_SESSIONS_END",),
        rules=_SetupSessionsSurvive,
    ),
    "code-any-purpose": Fault(
        "accepts a mailed code for any purpose: a login code confirms a reset",
        ("CODE_BOUND_TO_PURPOSE",),
        rules=_CodeAnyPurpose,
    ),
    "change-without-confirm": Fault(
        "a signed-in address change takes effect before its code is confirmed",
        ("EMAIL_REGISTRATION_CONFIRM", "EMAIL_OTP_TO_REGISTERED_ADDRESS"),
        rules=_ChangeWithoutConfirm,
    ),
    "no-csrf": Fault(
        "the pages take a form without its CSRF token", ("WEB_CSRF",), web=frozenset({"no-csrf"})
    ),
    "cookie-no-httponly": Fault(
        "the trust and remember-ID cookies lack HttpOnly",
        ("WEB_COOKIE_FLAGS",),
        web=frozenset({"cookie-no-httponly"}),
    ),
    "forgets-login-id": Fault(
        "«Remember ECS-ID/SPS-ID» keeps nothing", ("REMEMBER_LOGIN_ID",), web=frozenset({"forgets-login-id"})
    ),
    "link-works-twice": Fault(
        "a reset link initializes again when opened again",
        ("RESET_LINK_SINGLE_USE",),
        rules=_LinkWorksTwice,
        proven_under="iimc-2021",
    ),
    "link-never-expires": Fault(
        "a reset link never expires",
        ("RESET_LINK_LIFETIME",),
        rules=_LinkNeverExpires,
        proven_under="iimc-2021",
    ),
    "link-without-password": Fault(
        "a reset link acts whatever password is typed",
        ("RESET_LINK_REQUIRES_PASSWORD",),
        portal=_LinkWithoutPassword,
        proven_under="iimc-2021",
    ),
    "link-other-account": Fault(
        "a reset link acts after any account's password",
        ("RESET_LINK_BOUND_TO_ACCOUNT",),
        portal=_LinkForAnyAccount,
        proven_under="iimc-2021",
    ),
    "link-weak-token": Fault(
        "a reset link's token is the time it was issued",
        ("RESET_LINK_TOKEN_STRENGTH",),
        rules=_LinkTokenFromTheClock,
        proven_under="iimc-2021",
    ),
    "link-keeps-apps": Fault(
        "a reset by link keeps the old app secrets",
        ("RESET_VOIDS_APPS",),
        {"reset_voids_apps": False},
        proven_under="iimc-2021",
    ),
    "helpdesk-screen-stuck": Fault(
        "after the ICT Support Center's confirm, the screen left open never moves on",
        ("RESET_LINK_HELPDESK_CONFIRM",),
        portal=_ScreenLeftWaiting,
        proven_under="iimc-2021",
    ),
    "helpdesk-notice-flood": Fault(
        "mails the ICT Support Center at every click of 初期化, without limit",
        ("MAIL_RATE_LIMIT",),
        portal=_NoticesUnlimited,
        proven_under="iimc-2021",
    ),
    "helpdesk-notice-to-user": Fault(
        "mails the ICT Support Center's notice to the user's missing address (the placeholder)",
        ("RESET_LINK_HELPDESK_MAIL",),
        portal=_NoticeToTheUser,
        proven_under="iimc-2021",
    ),
}

FaultFactory = Callable[[Profile], Embedded]


def faulty_portal(name: str) -> FaultFactory:
    """A factory of embedded portals with the fault ``name``: ``(profile) -> Embedded``."""
    fault = FAULTS[name]
    return lambda profile: fault.build(profile)
