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
from .state import AccountState, AppRegistration, Guard, IssuedCode, Purpose, Session, Stage

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

# The lanes of a guard (state.Guard): a client's wrong passwords, a trusted browser's, the
# account's hour of them from every untrusted client, an address's mails since the last use.
CLIENT_LANE, TRUSTED_LANE, ACCOUNT_LANE, MAIL_LANE = "client:", "trusted:", "account", "mail"
MAX_CLIENT_CHARS = 64  # an IPv6 address with its zone fits; a longer one is cut, never refused
HOUR_SECONDS = 3600
ACCOUNT_FAILURES_PER_HOUR = 100  # OWASP ASVS 4.0.3 2.2.1, for one account from every client


def _recent(guard: Guard, lane: str, now: float, window: float) -> list[float]:
    """The lane's events of the last ``window`` seconds, oldest first (the older ones dropped)."""
    kept = [t for t in guard.lanes.get(lane, []) if now - t < window]
    if kept:
        guard.lanes[lane] = kept
    else:
        guard.lanes.pop(lane, None)
    return kept


def _add(guard: Guard, lane: str, now: float, window: float, most: int) -> None:
    """One more event in ``lane``; only the newest ``most`` can ever decide, so no more are kept."""
    guard.lanes[lane] = [*_recent(guard, lane, now, window), now][-most:]


def _take_back(guard: Guard, lane: str, at: float) -> None:
    events = guard.lanes.get(lane, [])
    if at in events:
        events.remove(at)
    if not events:
        guard.lanes.pop(lane, None)


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

    # --- the password throttle [PASSWORD_THROTTLE] (protocol.md §3.1) ---------------------
    def password_lane(self, client: str, trusted_browser: str | None) -> str:
        """Whose wrong passwords an attempt is counted with: a browser trusted for the account
        apart from every other client, else the network address it came from. Per client, so
        that a stranger who knows only the ID throttles the stranger, not the owner."""
        if trusted_browser is not None:
            return TRUSTED_LANE + trusted_browser
        return CLIENT_LANE + client[:MAX_CLIENT_CHARS]

    def password_wait(self, guard: Guard, lane: str, now: float) -> float | None:
        """The seconds ``lane`` must still wait before its next password for the ID, or None.

        A sliding window: throttled while ``max_failures`` failures lie within the last
        window, so the wait ends when the oldest of them ages out, at most a window after the
        newest. An untrusted client also waits while the account as a whole has had 100
        failures in the hour (OWASP ASVS 4.0.3 2.2.1), from however many addresses."""
        p = self.profile
        waits = []
        mine = _recent(guard, lane, now, p.password_throttle_window_seconds)
        if len(mine) >= p.password_throttle_max_failures:
            waits.append(mine[-p.password_throttle_max_failures] + p.password_throttle_window_seconds - now)
        if not lane.startswith(TRUSTED_LANE):
            hour = _recent(guard, ACCOUNT_LANE, now, HOUR_SECONDS)
            if len(hour) >= ACCOUNT_FAILURES_PER_HOUR:
                waits.append(hour[-ACCOUNT_FAILURES_PER_HOUR] + HOUR_SECONDS - now)
        return max(waits) if waits else None

    def count_password_failure(self, guard: Guard, lane: str, now: float) -> None:
        """Count an attempt as a failure *before* its password is checked (the check runs outside
        any transaction): concurrent guesses cannot all slip in before the first is counted. A
        right password takes its own count back (:meth:`forgive_password`)."""
        p = self.profile
        _add(guard, lane, now, p.password_throttle_window_seconds, p.password_throttle_max_failures)
        if not lane.startswith(TRUSTED_LANE):
            _add(guard, ACCOUNT_LANE, now, HOUR_SECONDS, ACCOUNT_FAILURES_PER_HOUR)
        guard.expires_at = max(guard.expires_at, now + HOUR_SECONDS)

    def forgive_password(self, guard: Guard, lane: str, now: float) -> None:
        """A right password: the attempt counted at ``now`` was no failure, and its client's own
        count starts again (protocol.md §3.1 leaves this open). The account's hour keeps the
        other clients' failures."""
        guard.lanes.pop(lane, None)
        _take_back(guard, ACCOUNT_LANE, now)

    # --- the mail limit [MAIL_RATE_LIMIT] (protocol.md §12.4, §12.5) ----------------------
    def mail_refusal(self, state: AccountState, now: float) -> AccountLocked | None:
        """Why nothing may be mailed to the account now: a lock. A code mailed while it holds
        could not be used, and would only fill the mailbox (Resend once mailed a locked one)."""
        return self.lock_refusal(state, now)

    def mail_wait(self, guard: Guard, now: float) -> float | None:
        """The seconds until the address may be mailed again, or None: ``per_address`` mails
        within the window since a code mailed there was last used are the most."""
        p = self.profile
        sent = _recent(guard, MAIL_LANE, now, p.mail_limit_window_seconds)
        if len(sent) >= p.mail_limit_per_address:
            return sent[-p.mail_limit_per_address] + p.mail_limit_window_seconds - now
        return None

    def count_mail(self, guard: Guard, now: float) -> None:
        p = self.profile
        _add(guard, MAIL_LANE, now, p.mail_limit_window_seconds, p.mail_limit_per_address)
        guard.expires_at = max(guard.expires_at, now + p.mail_limit_window_seconds)

    def uncount_mail(self, guard: Guard, now: float) -> None:
        """The request counted at ``now`` was refused after all: it mailed nothing."""
        _take_back(guard, MAIL_LANE, now)

    def mail_used(self, guard: Guard) -> None:
        """A code mailed to the address was used: its owner reads that mail, and the count
        starts again, so a user who logs in six times in ten minutes is not refused."""
        guard.lanes.pop(MAIL_LANE, None)

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

    # --- sessions [STALE_SESSIONS_END] ---------------------------------------------------
    def factor_registered(self, state: AccountState, by: Session) -> None:
        """A factor was registered in the session ``by``: every other session still in set-up
        ends. Left alone, a second password login made while the account had no factor went on
        registering an app and an address of its own after the owner had set theirs up (NIST SP
        800-63B §6.1.2.1: binding to an account that has a factor takes that factor first)."""
        state.sessions.keep(lambda s: s is by or s.stage is not Stage.SETUP)

    # --- reset [RESET_VOIDS_APPS] [RESET_CLEARS_EMAIL] -----------------------------------
    def apply_reset(self, state: AccountState) -> None:
        if self.profile.reset_voids_apps:
            state.apps = []
        if self.profile.reset_clears_email:
            state.addresses = []
        state.pending_app_secret_hex = None
        state.trusted_browsers = {}
        state.reset_pending = False
        # Only the reset sessions outlive it (the one that confirms, or in link mode the screens
        # that move on): a session from before would set up the emptied account [STALE_SESSIONS_END].
        state.sessions.keep(lambda s: s.stage is Stage.RESET)
        state.codes = []  # every pending code, not only the reset ones (protocol.md §9.5)
