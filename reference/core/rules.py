"""The rules that decide a code, as functions on one :class:`AccountState`.

Each function runs inside ``Store.transact``, so it sees and changes one consistent record.
A refused code is *returned* as a :class:`CodeRejected` rather than raised: the failure count it
adds must be committed, and raising would discard it.

:class:`Rules` is a class, not a bag of functions, so that ``ninsho.reference.faults`` can build the
faulty portals that prove the harness by overriding one rule at a time.
"""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import dataclass

from ninsho.spec.profile import Profile

from . import addresses, links, otp
from .errors import AccountLocked, CodeRejected, InvalidInput, NothingPending
from .otp import RandomSource
from .state import AccountState, AppRegistration, IssuedCode, Purpose

# Which requirement a refusal speaks for, by purpose and reason.
_REQUIREMENT = {
    (Purpose.LOGIN, "expired"): "EMAIL_OTP_LIFETIME",
    (Purpose.LOGIN, "used"): "EMAIL_OTP_SINGLE_USE",
    (Purpose.LOGIN, "wrong"): "SECOND_FACTOR_REQUIRED",
    (Purpose.REGISTER_EMAIL, "expired"): "EMAIL_OTP_LIFETIME",
    (Purpose.REGISTER_EMAIL, "used"): "EMAIL_OTP_SINGLE_USE",
    (Purpose.REGISTER_EMAIL, "wrong"): "EMAIL_REGISTRATION_CONFIRM",
    (Purpose.RESET, "expired"): "RESET_CODE_LIFETIME",
    (Purpose.RESET, "used"): "RESET_CODE_SINGLE_USE",
    (Purpose.RESET, "wrong"): "RESET_CONFIRMATION_MAIL",
}

# One message whatever the reason, as for codes (protocol.md §16.3).
LINK_REFUSED = (
    "This link is no longer valid, or belongs to another account. Click 初期化 again for a new one.",
    "このURLは無効か、別のアカウントのものです。もう一度「初期化」して新しいURLを受け取ってください。",
)
_LINK_REQUIREMENT = {
    "expired": "RESET_LINK_LIFETIME",
    "used": "RESET_LINK_SINGLE_USE",
    "wrong": "RESET_LINK_BOUND_TO_ACCOUNT",
}


@dataclass(frozen=True)
class Rules:
    profile: Profile
    pepper: bytes

    # --- input -------------------------------------------------------------------------
    def clean_code(self, raw: str, digits: int, requirement: str) -> str:
        """Full-width digits and white space ("123 456", as apps show codes) are forgiven;
        anything else is refused (spec/protocol.md §12.1)."""
        # Too long is refused, not cut: cutting at 64 accepted "<code><56 spaces>9".
        too_long = not isinstance(raw, str) or len(raw) > 64
        folded = "" if too_long else unicodedata.normalize("NFKC", raw)
        text = "".join(c for c in folded if c not in addresses.WHITE_SPACE)  # not str.split(): §12.1
        if len(text) != digits or not text.isascii() or not text.isdigit():
            raise InvalidInput(
                f"Enter the {digits}-digit code.",
                f"{digits}桁の数字を入力してください。",
                requirement=requirement,
                field="code",
            )
        return text

    # --- lockout [LOCKOUT_THRESHOLD] [LOCKOUT_DURATION] ---------------------------------
    def lock_refusal(self, state: AccountState, now: float) -> AccountLocked | None:
        if state.locked_until is not None:
            if now < state.locked_until:
                minutes = -(-int(state.locked_until - now) // 60)
                return AccountLocked(
                    f"Too many failed attempts. Try again in {minutes} minutes.",
                    f"認証の失敗が続いたため、ロックされています。{minutes}分後に再度お試しください。",
                    requirement="LOCKOUT_DURATION",
                )
            state.locked_until, state.failures = None, 0
        return None

    def record_failure(self, state: AccountState, now: float) -> None:
        state.failures += 1
        if state.failures >= self.profile.lockout_threshold:
            state.locked_until = now + self.profile.lockout_duration_seconds

    def counts_as_failure(self, reason: str) -> bool:
        """A code refused as right but already used (a mailed code's second use, a TOTP step
        at or below the last accepted one) is no guess: only who saw the code can send it.
        Counting it let a double click, or anyone who saw a used code, lock the account out:
        of 50 submissions of one code, 39 losers were told "locked" [REPLAY_NOT_COUNTED]."""
        return reason not in ("used", "replayed")

    def record_success(self, state: AccountState) -> None:
        state.failures = 0

    # --- mailed codes -------------------------------------------------------------------
    def digits_for(self, purpose: Purpose) -> int:
        p = self.profile
        return p.confirmation_code_digits if purpose is Purpose.RESET else p.email_otp_digits

    def lifetime_for(self, purpose: Purpose) -> int:
        p = self.profile
        if purpose is Purpose.RESET:
            return p.confirmation_code_lifetime_seconds
        return p.email_otp_lifetime_seconds

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
        """Keep the digest of a new code. A new code voids the live one [RESEND_VOIDS_PREVIOUS];
        a resend leaves the failure count alone [RESEND_KEEPS_FAILURE_COUNT]."""
        keep_old = not self.profile.resend_voids_previous
        state.codes = [
            c
            for c in state.codes
            if c.purpose is not purpose or (keep_old and not c.used and now < c.expires_at)
        ]
        state.codes.append(
            IssuedCode(
                purpose=purpose,
                digest=otp.code_digest(self.pepper, state.login_id, purpose.value, code),
                issued_at=now,
                expires_at=now + self.lifetime_for(purpose),
                address=address,
            )
        )
        if resend and not self.profile.resend_keeps_failure_count:
            state.failures = 0

    def consume_code(
        self, state: AccountState, purpose: Purpose, code: str, now: float
    ) -> IssuedCode | CodeRejected | AccountLocked:
        """Check and use a mailed code in one step [*_SINGLE_USE] [*_LIFETIME]."""
        locked = self.lock_refusal(state, now)
        if locked:
            return locked
        digest = otp.code_digest(self.pepper, state.login_id, purpose.value, code)
        reason = "wrong"
        for issued in state.codes:
            if issued.purpose is purpose and hmac.compare_digest(issued.digest, digest):
                refusal = self.refusal_reason(issued, now)
                if refusal is None:
                    issued.used = True
                    self.record_success(state)
                    return issued
                reason = refusal
        if self.counts_as_failure(reason):
            self.record_failure(state, now)
        return CodeRejected(reason, requirement=_REQUIREMENT[(purpose, reason)])

    def refusal_reason(self, issued: IssuedCode, now: float) -> str | None:
        if issued.used:
            return "used"
        if now >= issued.expires_at:
            return "expired"
        return None

    # --- the reset link [RESET_LINK_*] (protocol.md §19.3) -------------------------------
    def new_link_token(self, source: RandomSource, now: float) -> str:
        """A new link's token: 256 bits of the injected CSPRNG [RESET_LINK_TOKEN_STRENGTH]."""
        return links.new_token(source)

    def consume_link(self, state: AccountState, token: str, now: float) -> IssuedCode | CodeRejected:
        """Check and spend a reset link's token in one step. A refusal counts no failure: the
        token cannot be guessed, and its user has given the password already (§19.3)."""
        digest = otp.code_digest(self.pepper, state.login_id, Purpose.RESET.value, token)
        reason = "wrong"
        for issued in state.codes:
            if issued.purpose is Purpose.RESET and hmac.compare_digest(issued.digest, digest):
                refusal = self.link_refusal(issued, now)
                if refusal is None:
                    issued.used = True
                    return issued
                reason = refusal
        return CodeRejected(
            reason, requirement=_LINK_REQUIREMENT[reason], field="token", message=LINK_REFUSED
        )

    def link_refusal(self, issued: IssuedCode, now: float) -> str | None:
        """Why a found token no longer acts: ``used``, ``expired``, or None."""
        return self.refusal_reason(issued, now)

    # --- TOTP [TOTP_WINDOW] [TOTP_REPLAY] -----------------------------------------------
    def totp_step(self, secret: bytes, code: str, now: float) -> int | None:
        p = self.profile
        return otp.matching_step(
            secret,
            code,
            otp.time_step(now, p.totp_period_seconds),
            past=p.totp_window_past_steps,
            future=p.totp_window_future_steps,
            digits=p.totp_digits,
            algorithm=p.totp_algorithm,
        )

    def accept_step(self, app: AppRegistration, step: int) -> bool:
        """Record ``step`` as used unless it is not newer than the last accepted one."""
        if app.last_step is not None and step <= app.last_step:
            return False
        app.last_step = step
        return True

    def verify_totp(
        self, state: AccountState, code: str, now: float
    ) -> AppRegistration | CodeRejected | AccountLocked:
        locked = self.lock_refusal(state, now)
        if locked:
            return locked
        reason, requirement = "wrong", "TOTP_WINDOW"
        for app in state.apps:
            step = self.totp_step(bytes.fromhex(app.secret_hex), code, now)
            if step is None:
                continue
            if self.accept_step(app, step):
                self.record_success(state)
                return app
            reason, requirement = "replayed", "TOTP_REPLAY"
        if self.counts_as_failure(reason):
            self.record_failure(state, now)
        return CodeRejected(reason, requirement=requirement)

    def register_app(
        self, state: AccountState, code: str, now: float, app_id: str
    ) -> AppRegistration | CodeRejected | AccountLocked:
        """ "Register" with a current code from the pending secret [APP_REGISTER_REQUIRES_CODE].

        The step that proved the registration counts as used, so the same code cannot log in.
        """
        locked = self.lock_refusal(state, now)
        if locked:
            return locked
        if state.pending_app_secret_hex is None:
            raise NothingPending(
                "Scan the QR code first.",
                "先にQRコードを読み込んでください。",
                requirement="APP_REGISTER_REQUIRES_CODE",
            )
        step = self.totp_step(bytes.fromhex(state.pending_app_secret_hex), code, now)
        if step is None:
            self.record_failure(state, now)
            return CodeRejected("wrong", requirement="APP_REGISTER_REQUIRES_CODE")
        app = AppRegistration(app_id, state.pending_app_secret_hex, now, last_step=step)
        state.apps.append(app)
        state.pending_app_secret_hex = None
        self.record_success(state)
        return app

    # --- addresses ----------------------------------------------------------------------
    def check_address(self, raw: str) -> str:
        p = self.profile
        return str(addresses.check(raw, p.email_blocked_domains, subdomains=p.email_block_subdomains))

    def register_address(self, state: AccountState, address: str) -> None:
        """One address only [EMAIL_SINGLE_ADDRESS]: the newest confirmed one replaces the oldest."""
        kept = [a for a in state.addresses if a != address]
        state.addresses = ([*kept, address])[-self.profile.email_max_addresses :]

    # --- reset [RESET_VOIDS_APPS] [RESET_CLEARS_EMAIL] -----------------------------------
    def apply_reset(self, state: AccountState) -> None:
        if self.profile.reset_voids_apps:
            state.apps = []
        if self.profile.reset_clears_email:
            state.addresses = []
        state.pending_app_secret_hex = None
        state.trusted_browsers = {}
        state.reset_pending = False
        state.codes = []  # every pending code, not only the reset ones (protocol.md §9.5)
