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

    def authenticate(
        self, login_id: str, password: str, client: str = "", trust_token: str | None = None
    ) -> int | None:
        """The account ID when the password is right; the hash runs for unknown IDs too, and
        only once the throttle lets this client try this ID (spec §3.1)."""
        with self.store.read() as db:
            row = db.execute("SELECT id, pw_hash FROM account WHERE login_id = ?", (login_id,)).fetchone()
        trusted = row is not None and trust_token is not None and self.trusted(trust_token, int(row["id"]))
        lane = "trust:" + codes.token_hash(trust_token or "") if trusted else "addr:" + client
        self._count_attempt(login_id, lane)
        if row is None:
            codes.verify_password(password, self._dummy_hash)
            return None
        if not codes.verify_password(password, row["pw_hash"]):
            return None
        with self.store.write() as db:  # right: the attempt counted was none, and the lane starts again
            db.execute("DELETE FROM pw_failure WHERE login_id = ? AND lane = ?", (login_id, lane))
        return int(row["id"])

    def _count_attempt(self, login_id: str, lane: str) -> None:
        """Count the attempt as a wrong password before the hash runs, or refuse it: this lane's
        failures for the ID fill the window, or the ID has had 100 in the hour from addresses."""
        now, p = self.clock.now(), self.profile
        window, most = p.num("password_throttle.window_seconds"), p.num("password_throttle.max_failures")
        with self.store.write() as db:
            db.execute("DELETE FROM pw_failure WHERE at <= ?", (now - max(window, 3600),))
            mine = db.execute(
                "SELECT COUNT(*) FROM pw_failure WHERE login_id = ? AND lane = ? AND at > ?",
                (login_id, lane, now - window),
            ).fetchone()[0]
            hour = 0
            if not lane.startswith("trust:"):
                hour = db.execute(
                    "SELECT COUNT(*) FROM pw_failure WHERE login_id = ? AND lane LIKE 'addr:%' AND at > ?",
                    (login_id, now - 3600),
                ).fetchone()[0]
            if mine >= most or hour >= 100:
                raise Refusal("throttled", "PASSWORD_THROTTLE")
            db.execute("INSERT INTO pw_failure (login_id, lane, at) VALUES (?, ?, ?)", (login_id, lane, now))

    def may_mail(self, db: sqlite3.Connection, account_id: int, address: str) -> None:
        """In the transaction that issues a code: nothing for a locked account (spec §12.5), nor
        more than mail_limit.per_address mails to one address within the window since a code
        mailed there was used (§12.4). Counts the mail."""
        now, p = self.clock.now(), self.profile
        locked = db.execute("SELECT locked_until FROM account WHERE id = ?", (account_id,)).fetchone()[0]
        if locked is not None and now < locked:
            raise Refusal("locked", "LOCKOUT_THRESHOLD")
        window = p.num("mail_limit.window_seconds")
        db.execute("DELETE FROM mail_log WHERE at <= ?", (now - window,))
        sent = db.execute(
            "SELECT COUNT(*) FROM mail_log WHERE address = ? AND at > ?", (address, now - window)
        ).fetchone()[0]
        if sent >= p.num("mail_limit.per_address"):
            raise Refusal("mail_limited", "MAIL_RATE_LIMIT")
        db.execute("INSERT INTO mail_log (address, at) VALUES (?, ?)", (address, now))

    @staticmethod
    def mail_read(db: sqlite3.Connection, address: str | None) -> None:
        """A code mailed to ``address`` was used: its owner reads the mail, the count starts again."""
        if address:
            db.execute("DELETE FROM mail_log WHERE address = ?", (address,))

    def account(self, account_id: int) -> Account:
        """The account's current state."""
        with self.store.read() as db:
            row = db.execute("SELECT * FROM account WHERE id = ?", (account_id,)).fetchone()
            apps = db.execute("SELECT COUNT(*) FROM app WHERE account_id = ?", (account_id,)).fetchone()[0]
        locked = row["locked_until"] is not None and self.clock.now() < row["locked_until"]
        return Account(int(row["id"]), row["login_id"], row["address"], int(apps), locked)

    # --- sessions -----------------------------------------------------------------------------
    def open_session(
        self, account_id: int, stage: str, replaces: str | None = None, *, same_login: bool = False
    ) -> Session:
        """A new session token (also used at every change of stage, against fixation). With
        ``same_login`` the new token carries on the session it replaces, whose login time the
        absolute lifetime still counts from."""
        token = secrets.token_urlsafe(32)
        digest = codes.token_hash(token)
        now = self.clock.now()
        with self.store.write() as db:
            created = now
            if replaces:
                if same_login:
                    row = db.execute(
                        "SELECT created FROM session WHERE token_hash = ?", (replaces,)
                    ).fetchone()
                    created = row["created"] if row is not None else now
                db.execute("DELETE FROM session WHERE token_hash = ?", (replaces,))
            db.execute(
                "INSERT INTO session (token_hash, account_id, stage, created, last_seen) VALUES (?, ?, ?, ?, ?)",
                (digest, account_id, stage, created, now),
            )
        return Session(token, digest, account_id, stage)

    def end_other_setup_sessions(self, account_id: int, keep: str) -> None:
        """The account has a factor now: its other set-up sessions, opened by a password alone,
        must not register one of their own."""
        with self.store.write() as db:
            db.execute(
                "DELETE FROM session WHERE account_id = ? AND stage = 'setup' AND token_hash != ?",
                (account_id, keep),
            )

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
            if now - row["created"] >= self.profile.num("session.absolute_seconds"):
                expired = True  # however busy it has been
            elif row["stage"] in ("first_factor", "reset"):
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
