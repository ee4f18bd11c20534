"""The portal's state machine (protocol.md §2-§12): one method per operation of the binding.

Each operation is one store transaction, so that the check of a code and its consumption are
atomic. Refusals are PortalError; the ones that must persist (a failed attempt counted, an
expired session removed) carry commit=True and the transaction commits before re-raising.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import unicodedata
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from typing import Any

from . import texts
from .clock import Clock, Random
from .mail import Mailer, MailError, body_text, build_message
from .profile import Profile
from .rules import (
    base32_secret,
    mask_address,
    normalize_address,
    provisioning_uri,
    read_code,
    strip_white_space,
    time_step,
    totp_matches,
)
from .store import Account, Code, Session, Store, Tx

log = logging.getLogger("ninsho.cleanroom")

FIRST_FACTOR, SETUP, AUTHENTICATED, RESET = "first_factor", "setup", "authenticated", "reset"
# §9.4 and §22.2: Confirm only in the reset session that last ran Initialize or Resend
# ("session"), or in any reset session of the account ("account").
RESET_BINDINGS = ("session", "account")
ALL_STAGES = (FIRST_FACTOR, SETUP, AUTHENTICATED, RESET)
SETTINGS_STAGES = (SETUP, AUTHENTICATED)

# scrypt, ~16 MiB and a few tens of milliseconds: a password hashing function with a cost.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_SCHEME = "scrypt:16384:8:1:32"
_LOGIN_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


class PortalError(Exception):
    """A refusal in the one error shape of §16.3."""

    def __init__(
        self,
        status: int,
        error: str,
        requirement: str,
        field: str | None = None,
        *,
        commit: bool = False,
        reason: str = "",
        text: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {error} {requirement} {reason}".strip())
        self.status, self.error, self.requirement, self.field = status, error, requirement, field
        self.commit, self.reason, self.text = commit, reason, text or error
        # seconds, for the Retry-After header of a 429 (§3.1, §12.4)
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))

    def body(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "requirement": self.requirement,
            "field": self.field,
            "message": texts.ERRORS.get(self.text, texts.ERRORS["invalid_input"]),
        }


def bad_input(field: str | None, requirement: str = "INPUT_ERRORS_PRECISE", reason: str = "") -> PortalError:
    """A 400 that names the field; never counted, never stored."""
    return PortalError(400, "invalid_input", requirement, field, reason=reason)


def has_control(text: str) -> bool:
    """Cc, Cf or lone surrogates: refused in login IDs and passwords (§16.3)."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in text)


@dataclass
class _Ctx:
    """The session and account a request runs as."""

    session: Session
    account: Account


@dataclass(frozen=True)
class _Mail:
    """A code to mail once the transaction that stored it has committed."""

    purpose: str  # login | register | reset
    recipient: str
    code: str
    requirement: str
    account_id: int


class Portal:
    """All operations; time and randomness only through the injected clock and random."""

    def __init__(
        self,
        profile: Profile,
        store: Store,
        mailer: Mailer,
        clock: Clock,
        random: Random,
        admin_token: str | None = None,
        reset_binding: str = "session",
        rotate_tokens: bool = False,
    ) -> None:
        if reset_binding not in RESET_BINDINGS:
            raise ValueError(f"reset binding {reset_binding!r}: one of {', '.join(RESET_BINDINGS)}")
        self.reset_binding, self.rotate_tokens = reset_binding, rotate_tokens
        self.profile, self.store, self.mailer = profile, store, mailer
        self.clock, self.random = clock, random
        self.admin_token = admin_token or None
        with store.tx() as tx:
            tx.put_server_key("codes", random.token_bytes(32))
            key = tx.server_key("codes")
        assert key is not None
        self._code_key = key
        self._dummy_salt = random.token_bytes(16)

    # --- helpers ------------------------------------------------------------------------------
    def _move(self, tx: Tx, ctx: _Ctx, stage: str, now: float, *, renew: bool = False) -> dict[str, str]:
        """The session's next stage, and a new token (the answer's ``session`` field) where it
        must have one, at the second factor (``renew``, §4.1 SESSION_TOKEN_RENEWED), or at
        every change of stage with ``rotate_tokens``: a token copied or fixed before it is then
        worth nothing. The session row stays, so its created_at still counts (§11)."""
        tx.set_stage(ctx.session.id, stage, now)
        if not (renew or self.rotate_tokens) or ctx.session.stage == stage:
            return {}
        token = self._token()
        tx.set_token(ctx.session.id, self._token_hash(token))
        return {"session": token}

    def _p(self, key: str) -> Any:
        return self.profile[key]

    def _token(self) -> str:
        return urlsafe_b64encode(self.random.token_bytes(32)).rstrip(b"=").decode("ascii")

    @staticmethod
    def _token_hash(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8")).digest()

    def _code_hash(self, purpose: str, account_id: int, code: str) -> bytes:
        return hmac.new(self._code_key, f"{purpose}|{account_id}|{code}".encode(), hashlib.sha256).digest()

    def hash_password(self, password: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
        """(salt, digest): a 128-bit random salt per password."""
        salt = salt if salt is not None else self.random.token_bytes(16)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=64 * 2**20, **_SCRYPT)
        return salt, digest

    def _expired(self, session: Session, now: float) -> bool:
        """§11: password-only stages expire from the password, the others after idleness, and
        every one at session.absolute_seconds after its login, however busy."""
        if now - session.created_at >= self._p("session.absolute_seconds"):
            return True
        if session.stage in (FIRST_FACTOR, RESET):
            return bool(now - session.stage_at >= self._p("session.first_factor_seconds"))
        return bool(now - session.last_seen >= self._p("session.idle_seconds"))

    def _session(self, tx: Tx, token: str | None, stages: tuple[str, ...], now: float) -> _Ctx:
        """The live session of ``token`` in one of ``stages``; touches it (idle timer)."""
        session = tx.session_by_token(self._token_hash(token)) if token else None
        if session is None:
            raise PortalError(401, "session_expired", "SESSION_EXPIRY", reason="unknown token")
        if self._expired(session, now):
            tx.delete_session(session.id)
            raise PortalError(401, "session_expired", "SESSION_EXPIRY", commit=True, reason="expired")
        if session.stage not in stages:
            raise PortalError(403, "not_permitted", "SECOND_FACTOR_REQUIRED", reason=session.stage)
        account = tx.account(session.account_id)
        if account is None:
            raise PortalError(401, "session_expired", "SESSION_EXPIRY", reason="account gone")
        tx.touch_session(session.id, now)
        return _Ctx(session, account)

    def _delete_expired_sessions(self, tx: Tx, now: float) -> None:
        tx.delete_expired_sessions(
            now,
            self._p("session.first_factor_seconds"),
            self._p("session.idle_seconds"),
            self._p("session.absolute_seconds"),
        )

    def _check_lock(self, tx: Tx, account: Account, now: float) -> None:
        """§12.5: refuse every attempt while locked; a lapsed lock lifts with the count at 0."""
        if account.locked_until is None:
            return
        if now < account.locked_until:
            raise PortalError(
                429, "account_locked", "LOCKOUT_THRESHOLD", "code", commit=True, reason="account_locked"
            )
        tx.set_failures(account.id, 0, None)

    def _fail(self, tx: Tx, account_id: int, now: float, requirement: str, reason: str) -> PortalError:
        """Count a failed attempt, lock at the threshold, and give the refusal to raise. A code
        that was right but is used (``used``; ``ok`` when another request used it first) or a
        replayed step is refused without counting: §12.5, REPLAY_NOT_COUNTED."""
        if reason in ("used", "ok", "replayed"):
            log.info("refused a used code for account %s: %s (not counted)", account_id, reason)
            return PortalError(401, "code_rejected", requirement, "code", commit=True, reason=reason)
        account = tx.account(account_id)
        assert account is not None
        count = 0 if account.locked_until is not None else account.failure_count
        count += 1
        locked_until = None
        if count >= self._p("lockout.threshold"):
            locked_until = now + self._p("lockout.duration_seconds")
        tx.set_failures(account_id, count, locked_until)
        log.info("refused code for account %s: %s (failures %d)", account_id, reason, count)
        return PortalError(401, "code_rejected", requirement, "code", commit=True, reason=reason)

    def _issue(
        self, tx: Tx, account: Account, purpose: str, target: str | None, origin: str, now: float
    ) -> str:
        """A new code of ``purpose``; earlier ones void when resend.voids_previous (§12.4)."""
        prefix = "confirmation_code" if purpose == "reset" else "email_otp"
        digits, lifetime = self._p(f"{prefix}.digits"), self._p(f"{prefix}.lifetime_seconds")
        if self._p("resend.voids_previous"):
            tx.void_codes(account.id, purpose)
        tx.prune_codes(account.id, now - 86400)
        code = f"{self.random.randbelow(10**digits):0{digits}d}"
        tx.insert_code(
            account.id,
            purpose,
            self._code_hash(purpose, account.id, code),
            target,
            origin,
            now,
            now + lifetime,
        )
        return code

    def _match(self, tx: Tx, account_id: int, purpose: str, code: str, now: float) -> tuple[Code | None, str]:
        """The pending, unexpired code equal to ``code``, or None and why (for the log)."""
        wanted = self._code_hash(purpose, account_id, code)
        reason = "wrong"
        for row in tx.codes(account_id, purpose):
            if not hmac.compare_digest(row.code_hash, wanted):
                continue
            if row.state == "pending" and now < row.expires_at:
                return row, "ok"
            reason = "expired" if row.state == "pending" else row.state
        return None, reason

    def _mail(self, mail: _Mail) -> None:
        """Send after the transaction that stored the code has committed: sending inside it held
        the one write lock for an SMTP exchange, so under a busy relay every other request
        waited (Q10). A refused send withdraws the code it carried (503)."""
        kind, recipient = mail.purpose, mail.recipient
        subject = self._p("mail.subject_reset" if kind == "reset" else "mail.subject_otp")
        life = self._p(
            "confirmation_code.lifetime_seconds" if kind == "reset" else "email_otp.lifetime_seconds"
        )
        sender = self._p("mail.sender")
        body = body_text(kind, mail.code, life)
        msg = build_message(sender, recipient, subject, body, self.clock, self.random)
        try:
            self.mailer.send(msg, sender, recipient)
        except MailError as exc:
            log.warning("mail to the relay failed: %s", exc)
            with self.store.tx() as tx:
                tx.drop_code(mail.account_id, self._code_hash(kind, mail.account_id, mail.code))
            raise PortalError(503, "mail_not_sent", mail.requirement, reason=str(exc)) from exc

    def _grant_trust(self, tx: Tx, account_id: int, wanted: bool | None, now: float) -> str | None:
        duration = self._p("trust_browser.duration_seconds")
        if not wanted or duration <= 0:
            return None
        token = self._token()
        tx.insert_trust(account_id, self._token_hash(token), now, now + duration)
        return token

    def _methods(self, tx: Tx, account: Account) -> list[str]:
        methods = ["app"] if tx.app_count(account.id) else []
        if account.address:
            methods.append("email")
        return methods

    # --- first factor -------------------------------------------------------------------------
    def _check_password(
        self, login_id: str, password: str, *, client: str = "", trust_token: str | None = None
    ) -> int:
        """The account id when the pair is right; the hash runs for unknown IDs too (§3), and
        only when the throttle lets this client try the ID (§3.1)."""
        if len(password) > 1024 or has_control(password):
            raise bad_input("password", reason="control character or too long")
        with self.store.tx() as tx:
            account = tx.account_by_login(login_id)
            lane = self._throttle(tx, login_id, account, client, trust_token)
        salt = account.password_salt if account else self._dummy_salt
        _, digest = self.hash_password(password, salt)
        if (
            account is None
            or account.password_scheme != _SCHEME
            or not hmac.compare_digest(digest, account.password_hash)
        ):
            raise PortalError(401, "authentication_failed", "FIRST_FACTOR_PASSWORD", reason="wrong pair")
        with self.store.tx() as tx:
            tx.forgive_failures(login_id, lane)  # the pair was right: this client starts again
        return account.id

    def _throttle(
        self, tx: Tx, login_id: str, account: Account | None, client: str, trust_token: str | None
    ) -> str:
        """§3.1: count the attempt as a wrong password before the hash runs (the right one is
        forgiven after it), unless the client's wrong passwords for the ID fill the window, or
        the account's hour has 100 from untrusted clients. A browser with a live trust token of
        the account is a client of its own. Known and unknown IDs alike. The lane counted in."""
        now = self.clock.now()  # once the write lock is held (Store.tx)
        window, most = self._p("password_throttle.window_seconds"), self._p("password_throttle.max_failures")
        trusted = (
            account is not None
            and bool(trust_token)
            and self._p("trust_browser.duration_seconds") > 0
            and tx.trust_valid(account.id, self._token_hash(trust_token or ""), now)
        )
        lane = "trusted:" + self._token_hash(trust_token or "").hex() if trusted else "client:" + client[:64]
        tx.prune_failures(now - max(window, 3600))
        waits = []
        mine = tx.failures_since(login_id, now - window, lane)
        if len(mine) >= most:
            waits.append(mine[-most] + window - now)
        hour = [] if trusted else tx.failures_since(login_id, now - 3600, None)
        if len(hour) >= 100:  # OWASP ASVS 4.0.3 2.2.1: an hour's bound from every address together
            waits.append(hour[-100] + 3600 - now)
        if waits:
            raise PortalError(
                429,
                "rate_limited",
                "PASSWORD_THROTTLE",
                commit=True,
                text="throttled",
                retry_after=max(waits),
            )
        tx.add_failure(login_id, lane, now)
        return lane

    def _may_mail(self, tx: Tx, account: Account, address: str | None, now: float) -> None:
        """§12.5: nothing is mailed to a locked account; §12.4: nor more than
        mail_limit.per_address mails to one address within the window since a code mailed there
        was used. The mail is counted here, in the transaction that issues its code."""
        if address is None:
            return
        self._check_lock(tx, account, now)
        window, most = self._p("mail_limit.window_seconds"), self._p("mail_limit.per_address")
        tx.prune_mails(now - window)
        sent = tx.mails_since(address, now - window)
        if len(sent) >= most:
            raise PortalError(
                429,
                "rate_limited",
                "MAIL_RATE_LIMIT",
                text="mail_limited",
                retry_after=sent[-most] + window - now,
            )
        tx.add_mail(address, now)

    def _clean_login_id(self, login_id: str) -> str:
        login_id = strip_white_space(login_id)
        if has_control(login_id):
            raise bad_input("login_id", reason="control character")
        return login_id

    def login(
        self, login_id: str, password: str, trust_token: str | None, client: str = ""
    ) -> dict[str, Any]:
        """「ログイン / Login」: the stage follows §2.2's transition table."""
        account_id = self._check_password(
            self._clean_login_id(login_id), password, client=client, trust_token=trust_token
        )
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            account = tx.account(account_id)
            if account is None:
                raise PortalError(401, "authentication_failed", "FIRST_FACTOR_PASSWORD", reason="gone")
            self._delete_expired_sessions(tx, now)
            tx.prune_trusts(now)
            methods = self._methods(tx, account)
            trusted = bool(trust_token) and tx.trust_valid(
                account.id, self._token_hash(trust_token or ""), now
            )
            if not methods:
                stage = SETUP
            elif trusted and self._p("trust_browser.duration_seconds") > 0:
                stage = AUTHENTICATED
            else:
                stage = FIRST_FACTOR
            token = self._token()
            tx.insert_session(account.id, self._token_hash(token), stage, now)
        return {"session": token, "stage": stage, "methods": methods}

    def login_for_setup(self, login_id: str, password: str, client: str = "") -> dict[str, Any]:
        """「初回設定・再設定はこちら」 then ID and password again: always a reset session (§9.1)."""
        account_id = self._check_password(self._clean_login_id(login_id), password, client=client)
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            account = tx.account(account_id)
            if account is None:
                raise PortalError(401, "authentication_failed", "FIRST_FACTOR_PASSWORD", reason="gone")
            self._delete_expired_sessions(tx, now)
            token = self._token()
            tx.insert_session(account.id, self._token_hash(token), RESET, now)
            methods = self._methods(tx, account)
        return {"session": token, "stage": RESET, "methods": methods}

    def logout(self, token: str | None) -> None:
        """「ログアウト / Logout」, in every stage (§11)."""
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, ALL_STAGES, now)
            tx.delete_session(ctx.session.id)

    # --- second factor ------------------------------------------------------------------------
    def request_email_code(self, token: str | None) -> dict[str, Any]:
        """「ワンタイムパスワードを送信」 on the email screen: only to the registered address."""
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, (FIRST_FACTOR,), now)
            address = ctx.account.address
            if not address:
                raise PortalError(
                    409, "nothing_pending", "EMAIL_OTP_TO_REGISTERED_ADDRESS", commit=True, text="no_address"
                )
            self._may_mail(tx, ctx.account, address, now)
            code = self._issue(tx, ctx.account, "login", address, "mail", now)
            account_id = ctx.account.id
        self._mail(_Mail("login", address, code, "EMAIL_OTP_TO_REGISTERED_ADDRESS", account_id))
        shown = mask_address(address)
        return {"address": shown, "message": texts.email_sent(shown)}

    def submit_app_code(self, token: str | None, raw_code: str, trust: bool | None) -> dict[str, Any]:
        """「多要素認証 : アプリ」: window, replay (L per registration) and lockout."""
        code = read_code(raw_code, self._p("totp.digits"))
        if code is None:
            raise bad_input("code", "TOTP_DIGITS")
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, (FIRST_FACTOR,), now)
            self._check_lock(tx, ctx.account, now)
            step = time_step(now, self._p("totp.period_seconds"))
            replayed = False
            accepted = False
            for app in tx.apps(ctx.account.id):
                matches = totp_matches(
                    app.secret,
                    code,
                    step,
                    self._p("totp.window_past_steps"),
                    self._p("totp.window_future_steps"),
                    self._p("totp.digits"),
                    self._p("totp.algorithm"),
                )
                fresh = [s for s in matches if s > app.last_step]
                if fresh and tx.advance_step(app.id, max(fresh)):
                    accepted = True
                    break
                replayed = replayed or bool(matches)
            if not accepted:
                requirement = "TOTP_REPLAY" if replayed else "TOTP_WINDOW"
                raise self._fail(tx, ctx.account.id, now, requirement, "replayed" if replayed else "no match")
            tx.set_failures(ctx.account.id, 0, None)
            renewed = self._move(tx, ctx, AUTHENTICATED, now, renew=True)
            trust_token = self._grant_trust(tx, ctx.account.id, trust, now)
        return {"stage": AUTHENTICATED, "trust_token": trust_token, **renewed}

    def submit_email_code(self, token: str | None, raw_code: str, trust: bool | None) -> dict[str, Any]:
        """「多要素認証 : メール」 with the mailed login code."""
        code = read_code(raw_code, self._p("email_otp.digits"))
        if code is None:
            raise bad_input("code", "EMAIL_OTP_DIGITS")
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, (FIRST_FACTOR,), now)
            self._check_lock(tx, ctx.account, now)
            if not ctx.account.address:
                raise self._fail(tx, ctx.account.id, now, "EMAIL_OTP_TO_REGISTERED_ADDRESS", "no address")
            row, reason = self._match(tx, ctx.account.id, "login", code, now)
            if row is not None and row.target_address != ctx.account.address:
                row, reason = None, "sent to an earlier address"
            if row is None or not tx.use_code(row.id):
                requirement = {
                    "expired": "EMAIL_OTP_LIFETIME",
                    "void": "RESEND_VOIDS_PREVIOUS",
                }.get(reason, "EMAIL_OTP_SINGLE_USE")
                raise self._fail(tx, ctx.account.id, now, requirement, reason)
            tx.set_failures(ctx.account.id, 0, None)
            tx.clear_mails(ctx.account.address)  # its owner reads the mail: the count starts again
            renewed = self._move(tx, ctx, AUTHENTICATED, now, renew=True)
            trust_token = self._grant_trust(tx, ctx.account.id, trust, now)
        return {"stage": AUTHENTICATED, "trust_token": trust_token, **renewed}

    # --- settings -----------------------------------------------------------------------------
    def settings(self, token: str | None) -> dict[str, Any]:
        """「ワンタイムパスワードの設定」 as it stands."""
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, SETTINGS_STAGES, now)
            return {
                "login_id": ctx.account.login_id,
                "stage": ctx.session.stage,
                "address": ctx.account.address,
                "app_count": tx.app_count(ctx.account.id),
                "blocked_domains": list(self._p("email.blocked_domains")),
            }

    def register_email(self, token: str | None, raw_address: str) -> dict[str, Any]:
        """Mail tab 「ワンタイムパスワードを送信」: normalise, refuse, or mail a register code (§7)."""
        verdict = normalize_address(
            raw_address, self._p("email.blocked_domains"), self._p("email.block_subdomains")
        )
        if verdict.verdict == "invalid":
            raise PortalError(
                400, "invalid_address", "EMAIL_ADDRESS_SYNTAX", "address", reason=verdict.reason
            )
        if verdict.verdict == "blocked":
            raise PortalError(422, "blocked_address", verdict.requirement, "address", reason=verdict.reason)
        address = verdict.normalized
        assert address is not None
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, SETTINGS_STAGES, now)
            self._may_mail(tx, ctx.account, address, now)
            code = self._issue(tx, ctx.account, "register", address, "mail", now)
            account_id = ctx.account.id
        self._mail(_Mail("register", address, code, "EMAIL_OTP_TO_REGISTERED_ADDRESS", account_id))
        return {"address": address, "message": texts.email_sent(address)}

    def confirm_email(self, token: str | None, raw_code: str) -> dict[str, Any]:
        """Mail tab 「確認」: the address the code was sent to becomes the one address."""
        code = read_code(raw_code, self._p("email_otp.digits"))
        if code is None:
            raise bad_input("code", "EMAIL_OTP_DIGITS")
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, SETTINGS_STAGES, now)
            self._check_lock(tx, ctx.account, now)
            row, reason = self._match(tx, ctx.account.id, "register", code, now)
            if row is None or row.target_address is None or not tx.use_code(row.id):
                requirement = {
                    "expired": "EMAIL_OTP_LIFETIME",
                    "used": "EMAIL_OTP_SINGLE_USE",
                    "void": "RESEND_VOIDS_PREVIOUS",
                }.get(reason, "EMAIL_REGISTRATION_CONFIRM")
                raise self._fail(tx, ctx.account.id, now, requirement, reason)
            tx.set_address(ctx.account.id, row.target_address)
            tx.clear_mails(row.target_address)
            tx.void_codes(ctx.account.id, "login")
            tx.set_failures(ctx.account.id, 0, None)
            tx.delete_other_sessions(ctx.account.id, ctx.session.id, SETUP)  # STALE_SESSIONS_END
            renewed = self._move(tx, ctx, AUTHENTICATED, now)
            address = row.target_address
        return {
            "address": address,
            "stage": AUTHENTICATED,
            "message": texts.email_registered(address),
            **renewed,
        }

    def start_app(self, token: str | None) -> dict[str, Any]:
        """The App tab: a fresh pending secret, replacing any earlier one (§8 steps 1-3)."""
        secret = self.random.token_bytes(self._p("totp.secret_bytes"))
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, SETTINGS_STAGES, now)
            tx.put_pending_secret(ctx.account.id, ctx.session.id, secret, now)
            login_id = ctx.account.login_id
        uri = provisioning_uri(
            self._p("totp.issuer"),
            login_id,
            secret,
            self._p("totp.algorithm"),
            self._p("totp.digits"),
            self._p("totp.period_seconds"),
        )
        return {"uri": uri, "manual_key": base32_secret(secret)}

    def register_app(self, token: str | None, raw_code: str) -> dict[str, Any]:
        """「登録 / Register」: only a code valid now for the pending secret registers it."""
        code = read_code(raw_code, self._p("totp.digits"))
        if code is None:
            raise bad_input("code", "TOTP_DIGITS")
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, SETTINGS_STAGES, now)
            pending = tx.pending_secret(ctx.account.id)
            if pending is None or pending.session_id != ctx.session.id:
                raise PortalError(409, "nothing_pending", "APP_REGISTER_REQUIRES_CODE", commit=True)
            self._check_lock(tx, ctx.account, now)
            matches = totp_matches(
                pending.secret,
                code,
                time_step(now, self._p("totp.period_seconds")),
                self._p("totp.window_past_steps"),
                self._p("totp.window_future_steps"),
                self._p("totp.digits"),
                self._p("totp.algorithm"),
            )
            if not matches:
                raise self._fail(tx, ctx.account.id, now, "APP_REGISTER_REQUIRES_CODE", "no match")
            app_id = "app-" + self.random.token_bytes(8).hex()
            tx.insert_app(ctx.account.id, app_id, pending.secret, max(matches), now)
            tx.delete_pending_secret(ctx.account.id)
            tx.set_failures(ctx.account.id, 0, None)
            tx.delete_other_sessions(ctx.account.id, ctx.session.id, SETUP)  # STALE_SESSIONS_END
            renewed = self._move(tx, ctx, AUTHENTICATED, now)
            has_address = bool(ctx.account.address)
        return {
            "app_id": app_id,
            "stage": AUTHENTICATED,
            "message": texts.app_registered(has_address),
            **renewed,
        }

    # --- reset --------------------------------------------------------------------------------
    def _reset_screen(
        self, tx: Tx, ctx: _Ctx, now: float, requirement: str
    ) -> tuple[dict[str, Any], _Mail | None]:
        """A reset code to mail when there is an address (§9.2), and the reset page."""
        address, mail = ctx.account.address, None
        if address:
            code = self._issue(tx, ctx.account, "reset", address, "mail", now)
            mail = _Mail("reset", address, code, requirement, ctx.account.id)
            shown, mailed = mask_address(address), True
        else:
            shown, mailed = self._p("reset.placeholder_address"), False
        screen = {
            "login_id": ctx.account.login_id,
            "shown_address": shown,
            "mailed": mailed,
            "message": texts.reset_message(self.profile),
        }
        return screen, mail

    def _show_reset(self, screen: tuple[dict[str, Any], _Mail | None]) -> dict[str, Any]:
        page, mail = screen
        if mail is not None:
            self._mail(mail)
        return page

    def initialize(self, token: str | None) -> dict[str, Any]:
        """「初期化 / Initialize」: open the pending reset for this session; change nothing else."""
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, (RESET,), now)
            self._may_mail(tx, ctx.account, ctx.account.address, now)  # before anything opens
            tx.open_reset(ctx.account.id, ctx.session.id, now)
            screen = self._reset_screen(tx, ctx, now, "RESET_CONFIRMATION_MAIL")
        return self._show_reset(screen)

    def resend(self, token: str | None) -> dict[str, Any]:
        """「再送信 / Resend」: a new code for the open reset; the failure count stays."""
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, (RESET,), now)
            pending = tx.pending_reset(ctx.account.id)
            if pending is None:
                raise PortalError(409, "nothing_pending", "RESET_CONFIRMATION_MAIL", commit=True)
            self._may_mail(tx, ctx.account, ctx.account.address, now)
            tx.open_reset(ctx.account.id, ctx.session.id, now)
            screen = self._reset_screen(tx, ctx, now, "RESET_CONFIRMATION_MAIL")
        return self._show_reset(screen)

    def confirm_reset(self, token: str | None, raw_code: str) -> dict[str, Any]:
        """「確認 / Confirm」 with the confirmation code: §9.5 atomically, then setup (§9.6)."""
        code = read_code(raw_code, self._p("confirmation_code.digits"))
        if code is None:
            raise bad_input("code", "RESET_CODE_DIGITS")
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            ctx = self._session(tx, token, (RESET,), now)
            account_id = ctx.account.id
            pending = tx.pending_reset(account_id)
            if pending is None:
                raise PortalError(409, "nothing_pending", "RESET_CODE_SINGLE_USE", commit=True)
            self._check_lock(tx, ctx.account, now)
            if self.reset_binding == "session" and pending.session_id != ctx.session.id:
                raise self._fail(
                    tx, account_id, now, "RESET_CODE_SINGLE_USE", "reset bound to another session"
                )
            row, reason = self._match(tx, account_id, "reset", code, now)
            if row is None or not tx.use_code(row.id):
                requirement = {
                    "expired": "RESET_CODE_LIFETIME",
                    "void": "RESEND_VOIDS_PREVIOUS",
                }.get(reason, "RESET_CODE_SINGLE_USE")
                raise self._fail(tx, account_id, now, requirement, reason)
            if row.target_address:
                tx.clear_mails(row.target_address)
            if self._p("reset.voids_apps"):
                tx.delete_apps(account_id)
            if self._p("reset.clears_email"):
                tx.set_address(account_id, None)
            tx.void_codes(account_id, None)
            tx.close_reset(account_id)
            tx.set_failures(account_id, 0, None)
            tx.delete_trusts(account_id)
            tx.delete_pending_secret(account_id)
            tx.delete_other_sessions(account_id, ctx.session.id)
            renewed = self._move(tx, ctx, SETUP, now)
        return {"stage": SETUP, "message": texts.RESET_CONFIRMED, **renewed}

    # --- operator -----------------------------------------------------------------------------
    def check_admin(self, token: str | None, requirement: str) -> None:
        """The admin API exists only with a configured token (compared in constant time)."""
        if self.admin_token is None:
            raise PortalError(403, "admin_refused", requirement, text="admin_disabled")
        if token is None or not hmac.compare_digest(token.encode(), self.admin_token.encode()):
            raise PortalError(401, "admin_refused", requirement, text="admin_unauthorized")

    def add_user(self, login_id: str, password: str) -> dict[str, Any]:
        """Operator: create an account (passwords stored only as scrypt with a salt)."""
        if not (1 <= len(login_id) <= 64 and set(login_id) <= _LOGIN_ID_CHARS and login_id[0] not in "._-"):
            raise bad_input("login_id", reason="not a login ID")
        if not 1 <= len(password) <= 1024 or has_control(password):
            raise bad_input("password", reason="empty, too long or control character")
        salt, digest = self.hash_password(password)
        with self.store.tx() as tx:
            if not tx.insert_account(login_id, _SCHEME, salt, digest, self.clock.now()):
                raise PortalError(409, "conflict", "INPUT_ERRORS_PRECISE", "login_id")
        return {"login_id": login_id}

    def remove_user(self, login_id: str) -> None:
        """Operator: remove an account and everything that hangs on it."""
        with self.store.tx() as tx:
            if not tx.delete_account(login_id):
                raise PortalError(404, "unknown_account", "INPUT_ERRORS_PRECISE", "login_id")

    def helpdesk_issue(self, login_id: str) -> dict[str, Any]:
        """§10: a confirmation code shown to the operator, only for a pending reset without address."""
        with self.store.tx() as tx:
            now = self.clock.now()  # once the write lock is held (Store.tx)
            account = tx.account_by_login(login_id)
            if account is None:
                raise PortalError(404, "unknown_account", "HELPDESK_PENDING_ONLY", "login_id")
            if account.address:
                raise PortalError(
                    409,
                    "nothing_pending",
                    "HELPDESK_PENDING_ONLY",
                    "login_id",
                    reason="has address",
                    text="helpdesk_refused",
                )
            if tx.pending_reset(account.id) is None:
                raise PortalError(
                    409,
                    "nothing_pending",
                    "HELPDESK_PENDING_ONLY",
                    "login_id",
                    reason="no reset",
                    text="helpdesk_refused",
                )
            code = self._issue(tx, account, "reset", None, "helpdesk", now)
        return {
            "login_id": account.login_id,
            "code": code,
            "helpdesk_hours": self._p("helpdesk.hours"),
            "helpdesk_phone": self._p("helpdesk.phone"),
        }
