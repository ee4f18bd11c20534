"""The engine's base: accounts, sessions, trusted browsers, and the guarded code attempt.

Every rule that changes stored state runs in one ``BEGIN IMMEDIATE`` transaction, so a check
and its write cannot be split by a concurrent request (single use, replay, lockout).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from . import codes
from .clock import Clock
from .mailer import Mailer, MailError, build_message
from .profile import Profile
from .refusals import Refusal
from .store import Store

Check = Callable[[sqlite3.Connection, float], "bool | None"]


class Replayed(Exception):
    """A check found the code right but already used (a spent mailed code, a TOTP step at or
    below the last accepted one): refused, and no failed attempt (§12.5, REPLAY_NOT_COUNTED)."""


Success = Callable[[sqlite3.Connection, float], None]


@dataclass(frozen=True)
class Account:
    """What the screens need to know about an account."""

    id: int
    login_id: str
    address: str | None
    app_count: int
    locked: bool


@dataclass(frozen=True)
class Session:
    """A live session: the cookie token, its stored hash, its account and stage."""

    token: str
    token_hash: str
    account_id: int
    stage: str


class Engine:
    """Rules shared by every user action; the actions themselves are in ``actions.Portal``."""

    def __init__(self, profile: Profile, store: Store, clock: Clock, mailer: Mailer | None) -> None:
        self.profile, self.store, self.clock, self.mailer = profile, store, clock, mailer
        self._dummy_hash = codes.hash_password(secrets.token_hex(8))

    # --- accounts -----------------------------------------------------------------------------
    def add_user(self, login_id: str, password: str, log2_n: int = codes.SCRYPT_LOG2_N) -> None:
        """Create an account (the operator's job); refuses an existing login ID."""
        pw_hash = codes.hash_password(password, log2_n)
        with self.store.write() as db:
            if db.execute("SELECT 1 FROM account WHERE login_id = ?", (login_id,)).fetchone():
                raise ValueError(f"account {login_id!r} already exists")
            db.execute("INSERT INTO account (login_id, pw_hash) VALUES (?, ?)", (login_id, pw_hash))

    def authenticate(self, login_id: str, password: str) -> int | None:
        """The account ID when the password is right; the hash runs for unknown IDs too."""
        with self.store.read() as db:
            row = db.execute("SELECT id, pw_hash FROM account WHERE login_id = ?", (login_id,)).fetchone()
        if row is None:
            codes.verify_password(password, self._dummy_hash)
            return None
        return int(row["id"]) if codes.verify_password(password, row["pw_hash"]) else None

    def account(self, account_id: int) -> Account:
        """The account's current state."""
        with self.store.read() as db:
            row = db.execute("SELECT * FROM account WHERE id = ?", (account_id,)).fetchone()
            apps = db.execute("SELECT COUNT(*) FROM app WHERE account_id = ?", (account_id,)).fetchone()[0]
        locked = row["locked_until"] is not None and self.clock.now() < row["locked_until"]
        return Account(int(row["id"]), row["login_id"], row["address"], int(apps), locked)

    # --- sessions -----------------------------------------------------------------------------
    def open_session(self, account_id: int, stage: str, replaces: str | None = None) -> Session:
        """A new session token (also used at every change of stage, against fixation)."""
        token = secrets.token_urlsafe(32)
        digest = codes.token_hash(token)
        now = self.clock.now()
        with self.store.write() as db:
            if replaces:
                db.execute("DELETE FROM session WHERE token_hash = ?", (replaces,))
            db.execute(
                "INSERT INTO session (token_hash, account_id, stage, created, last_seen) VALUES (?, ?, ?, ?, ?)",
                (digest, account_id, stage, now, now),
            )
        return Session(token, digest, account_id, stage)

    def session(self, token: str | None) -> Session:
        """The live session of a cookie; unknown or expired ones are the "session expired" error."""
        if not token:
            raise Refusal("session_expired", "SESSION_EXPIRY")
        digest = codes.token_hash(token)
        now = self.clock.now()
        with self.store.write() as db:
            row = db.execute("SELECT * FROM session WHERE token_hash = ?", (digest,)).fetchone()
            if row is None:
                raise Refusal("session_expired", "SESSION_EXPIRY")
            if row["stage"] in ("first_factor", "reset"):
                expired = now - row["created"] >= self.profile.num("session.first_factor_seconds")
            else:
                expired = now - row["last_seen"] >= self.profile.num("session.idle_seconds")
            if expired:
                db.execute("DELETE FROM session WHERE token_hash = ?", (digest,))
            else:
                db.execute("UPDATE session SET last_seen = ? WHERE token_hash = ?", (now, digest))
        if expired:
            raise Refusal("session_expired", "SESSION_EXPIRY")
        return Session(token, digest, int(row["account_id"]), row["stage"])

    def end_session(self, token: str | None) -> None:
        """Logout: the token is refused from now on."""
        if token:
            with self.store.write() as db:
                db.execute("DELETE FROM session WHERE token_hash = ?", (codes.token_hash(token),))

    # --- trusted browsers ---------------------------------------------------------------------
    def grant_trust(self, account_id: int) -> str | None:
        """A trust token for "Trust this browser", or None when the profile trusts no browser."""
        duration = self.profile.num("trust_browser.duration_seconds")
        if duration <= 0:
            return None
        token = secrets.token_urlsafe(32)
        with self.store.write() as db:
            db.execute(
                "INSERT INTO trust (token_hash, account_id, expires) VALUES (?, ?, ?)",
                (codes.token_hash(token), account_id, self.clock.now() + duration),
            )
        return token

    def trusted(self, token: str | None, account_id: int) -> bool:
        """Whether this browser's trust token is live for this very account."""
        if not token or self.profile.num("trust_browser.duration_seconds") <= 0:
            return False
        with self.store.read() as db:
            row = db.execute(
                "SELECT * FROM trust WHERE token_hash = ?", (codes.token_hash(token),)
            ).fetchone()
        return row is not None and row["account_id"] == account_id and self.clock.now() < row["expires"]

    # --- guarded attempts ---------------------------------------------------------------------
    def attempt(self, account_id: int, requirement: str, check: Check, success: Success) -> None:
        """Run one code check under the lockout rules, committing the failure count either way."""
        now = self.clock.now()
        with self.store.write() as db:
            row = db.execute(
                "SELECT failures, locked_until FROM account WHERE id = ?", (account_id,)
            ).fetchone()
            if row["locked_until"] is not None and now >= row["locked_until"]:
                db.execute("UPDATE account SET failures = 0, locked_until = NULL WHERE id = ?", (account_id,))
                outcome = "open"
            else:
                outcome = "locked" if row["locked_until"] is not None else "open"
            if outcome == "open":
                try:
                    result: bool | None = check(db, now)
                except Replayed:
                    result, outcome = False, "replayed"
                if outcome == "replayed":
                    outcome = "refused"  # and not counted
                elif result is None:
                    outcome = "nothing"
                elif result:
                    success(db, now)
                    db.execute(
                        "UPDATE account SET failures = 0, locked_until = NULL WHERE id = ?", (account_id,)
                    )
                    outcome = "ok"
                else:
                    self._fail(db, account_id, now)
                    outcome = "refused"
        if outcome == "locked":
            raise Refusal("locked", "LOCKOUT_THRESHOLD", "code")
        if outcome == "nothing":
            raise Refusal("nothing_pending", requirement, "code")
        if outcome == "refused":
            raise Refusal("code_refused", requirement, "code")

    def _fail(self, db: sqlite3.Connection, account_id: int, now: float) -> None:
        """Count one failed attempt; lock the account when the threshold is reached."""
        db.execute("UPDATE account SET failures = failures + 1 WHERE id = ?", (account_id,))
        failures = db.execute("SELECT failures FROM account WHERE id = ?", (account_id,)).fetchone()[0]
        if failures >= self.profile.num("lockout.threshold"):
            until = now + self.profile.num("lockout.duration_seconds")
            db.execute("UPDATE account SET locked_until = ? WHERE id = ?", (until, account_id))

    # --- issued codes -------------------------------------------------------------------------
    def issue(self, db: sqlite3.Connection, account_id: int, purpose: str, target: str | None = None) -> str:
        """Store a new hashed code; with resend.voids_previous the earlier ones go."""
        digits = self.profile.num("confirmation_code.digits" if purpose == "reset" else "email_otp.digits")
        code = codes.new_code(digits)
        if self.profile.flag("resend.voids_previous"):
            db.execute("DELETE FROM code WHERE account_id = ? AND purpose = ?", (account_id, purpose))
        salt = secrets.token_bytes(16)
        db.execute(
            "INSERT INTO code (account_id, purpose, salt, hash, issued, target) VALUES (?, ?, ?, ?, ?, ?)",
            (
                account_id,
                purpose,
                salt,
                codes.hash_code(salt, account_id, purpose, code),
                self.clock.now(),
                target,
            ),
        )
        return code

    def spend(
        self, db: sqlite3.Connection, account_id: int, purpose: str, code: str, now: float
    ) -> str | bool | None:
        """Consume a matching live code: its target (or True), False when none matches, None when none exists."""
        rows = db.execute(
            "SELECT * FROM code WHERE account_id = ? AND purpose = ?", (account_id, purpose)
        ).fetchall()
        if not rows:
            return None
        key = "confirmation_code.lifetime_seconds" if purpose == "reset" else "email_otp.lifetime_seconds"
        lifetime = self.profile.num(key)
        for row in rows:
            digest = codes.hash_code(row["salt"], account_id, purpose, code)
            if not codes.same(digest, row["hash"]):
                continue
            if row["used"]:
                raise Replayed
            if 0 <= now - row["issued"] < lifetime:
                db.execute("UPDATE code SET used = 1 WHERE id = ?", (row["id"],))
                return row["target"] or True
        return False

    def mail(self, to: str, code: str, reset: bool, drop: Callable[[], None]) -> None:
        """Send one code; when the relay refuses, the stored code is dropped and 503 follows."""
        key = "confirmation_code.lifetime_seconds" if reset else "email_otp.lifetime_seconds"
        msg = build_message(self.profile, to, code, reset, self.profile.num(key))
        try:
            if self.mailer is None:
                raise MailError("no SMTP relay configured")
            self.mailer.send(msg, to)
        except MailError:
            drop()
            raise Refusal("mail_failed", "MAIL_SENDER") from None
