"""The user actions of the manuals on top of the engine: second factor, settings, reset, helpdesk."""

from __future__ import annotations

import sqlite3

from . import codes
from .address import check_address
from .engine import Engine, Replayed
from .refusals import Refusal


class HelpdeskError(RuntimeError):
    """The operator action is refused (no such account, an address, or no pending reset)."""


class Portal(Engine):
    """Every action a screen can ask for; each raises a Refusal when the rules say no."""

    def _code(self, raw: str, key: str, requirement: str, field: str) -> str:
        code = codes.read_code(raw, self.profile.num(key))
        if code is None:
            raise Refusal("invalid_input", requirement, field)
        return code

    def _drop_newest(self, account_id: int, purpose: str) -> None:
        with self.store.write() as db:
            db.execute(
                "DELETE FROM code WHERE id = (SELECT MAX(id) FROM code WHERE account_id = ? AND purpose = ?)",
                (account_id, purpose),
            )

    def _send(self, account_id: int, purpose: str, to: str, code: str) -> None:
        self.mail(to, code, purpose == "reset", lambda: self._drop_newest(account_id, purpose))

    # --- second factor ------------------------------------------------------------------------
    def verify_app(self, account_id: int, raw: str, field: str) -> None:
        """An app code: window and replay per registration (§4.2)."""
        code = self._code(raw, "totp.digits", "TOTP_DIGITS", field)
        p = self.profile

        def check(db: sqlite3.Connection, now: float) -> bool | None:
            apps = db.execute("SELECT * FROM app WHERE account_id = ? ORDER BY id", (account_id,)).fetchall()
            if not apps:
                return None
            step = int(now // p.num("totp.period_seconds"))
            for app in apps:
                s = codes.matching_step(
                    app["secret"], code, step, p.num("totp.window_past_steps"), p.num("totp.window_future_steps"),
                    p.num("totp.digits"), p.text("totp.algorithm"), app["last_step"],
                )  # fmt: skip
                if s is not None:
                    db.execute("UPDATE app SET last_step = ? WHERE id = ?", (s, app["id"]))
                    return True
            for app in apps:  # a step of the window that gives the code, but is used already
                s = codes.matching_step(
                    app["secret"], code, step, p.num("totp.window_past_steps"), p.num("totp.window_future_steps"),
                    p.num("totp.digits"), p.text("totp.algorithm"), -1,
                )  # fmt: skip
                if s is not None:
                    raise Replayed
            return False

        self.attempt(account_id, "TOTP_WINDOW", check, lambda db, now: None)

    def send_login_code(self, account_id: int) -> str:
        """Mail a `login` code to the registered address, and to no other; returns that address."""
        with self.store.write() as db:
            row = db.execute("SELECT address FROM account WHERE id = ?", (account_id,)).fetchone()
            address = row["address"]
            if address:
                self.may_mail(db, account_id, address)
            code = self.issue(db, account_id, "login") if address else ""
        if not address:
            raise Refusal("nothing_pending", "EMAIL_OTP_TO_REGISTERED_ADDRESS", "address")
        self._send(account_id, "login", address, code)
        return str(address)

    def verify_login_code(self, account_id: int, raw: str, field: str) -> None:
        """A mailed `login` code, once, within its lifetime."""
        code = self._code(raw, "email_otp.digits", "EMAIL_OTP_DIGITS", field)

        def check(db: sqlite3.Connection, now: float) -> bool | None:
            spent = self.spend(db, account_id, "login", code, now)
            return None if spent is None else bool(spent)

        def success(db: sqlite3.Connection, now: float) -> None:
            row = db.execute("SELECT address FROM account WHERE id = ?", (account_id,)).fetchone()
            self.mail_read(db, row["address"])

        self.attempt(account_id, "EMAIL_OTP_SINGLE_USE", check, success)

    # --- settings: the address ----------------------------------------------------------------
    def start_registration(self, account_id: int, raw: str, field: str) -> str:
        """Normalise, refuse invalid or blocked, else mail a `register` code to the new address."""
        checked = check_address(raw, self.profile.domains(), self.profile.flag("email.block_subdomains"))
        if checked.verdict == "invalid" or checked.address is None:
            raise Refusal("invalid_address", "EMAIL_ADDRESS_SYNTAX", field)
        if checked.verdict == "blocked":
            domain = checked.address.rpartition("@")[2]
            exact = domain in self.profile.domains()
            raise Refusal("blocked", "EMAIL_BLOCKED_DOMAIN" if exact else "EMAIL_BLOCKED_SUBDOMAIN", field)
        with self.store.write() as db:
            self.may_mail(db, account_id, checked.address)
            code = self.issue(db, account_id, "register", checked.address)
        self._send(account_id, "register", checked.address, code)
        return checked.address

    def confirm_registration(self, account_id: int, raw: str, field: str) -> str:
        """The `register` code: only now does the address change (and the old one gets no more)."""
        code = self._code(raw, "email_otp.digits", "EMAIL_OTP_DIGITS", field)
        confirmed: list[str] = []

        def check(db: sqlite3.Connection, now: float) -> bool | None:
            target = self.spend(db, account_id, "register", code, now)
            if isinstance(target, str):
                confirmed.append(target)
                return True
            return None if target is None else False

        def success(db: sqlite3.Connection, now: float) -> None:
            db.execute("UPDATE account SET address = ? WHERE id = ?", (confirmed[0], account_id))
            self.mail_read(db, confirmed[0])
            db.execute("DELETE FROM code WHERE account_id = ? AND purpose = 'login'", (account_id,))

        self.attempt(account_id, "EMAIL_REGISTRATION_CONFIRM", check, success)
        return confirmed[0]

    # --- settings: the app --------------------------------------------------------------------
    def pending_secret(self, account_id: int) -> str:
        """The account's one pending secret, made on first display and kept until registered."""
        with self.store.write() as db:
            row = db.execute("SELECT pending_secret FROM account WHERE id = ?", (account_id,)).fetchone()
            secret = row["pending_secret"]
            if not secret:
                secret = codes.new_secret(self.profile.num("totp.secret_bytes"))
                db.execute("UPDATE account SET pending_secret = ? WHERE id = ?", (secret, account_id))
        return str(secret)

    def provisioning(self, login_id: str, secret: str) -> str:
        """The otpauth:// URI of the pending secret."""
        p = self.profile
        return codes.provisioning_uri(
            p.text("totp.issuer"), login_id, secret, p.text("totp.algorithm"), p.num("totp.digits"),
            p.num("totp.period_seconds"),
        )  # fmt: skip

    def register_app(self, account_id: int, raw: str, field: str) -> None:
        """ "Register": the current code of the pending secret creates the registration."""
        code = self._code(raw, "totp.digits", "TOTP_DIGITS", field)
        p = self.profile
        matched: list[tuple[str, int]] = []

        def check(db: sqlite3.Connection, now: float) -> bool | None:
            row = db.execute("SELECT pending_secret FROM account WHERE id = ?", (account_id,)).fetchone()
            secret = row["pending_secret"]
            if not secret:
                return None
            step = int(now // p.num("totp.period_seconds"))
            s = codes.matching_step(
                secret, code, step, p.num("totp.window_past_steps"), p.num("totp.window_future_steps"),
                p.num("totp.digits"), p.text("totp.algorithm"), -1,
            )  # fmt: skip
            if s is None:
                return False
            matched.append((secret, s))
            return True

        def success(db: sqlite3.Connection, now: float) -> None:
            secret, step = matched[0]
            db.execute(
                "INSERT INTO app (account_id, secret, last_step) VALUES (?, ?, ?)", (account_id, secret, step)
            )
            db.execute("UPDATE account SET pending_secret = NULL WHERE id = ?", (account_id,))

        self.attempt(account_id, "APP_REGISTER_REQUIRES_CODE", check, success)

    # --- reset --------------------------------------------------------------------------------
    def has_pending_reset(self, account_id: int) -> bool:
        """Whether an "Initialize" is open for the account."""
        with self.store.read() as db:
            row = db.execute("SELECT 1 FROM pending_reset WHERE account_id = ?", (account_id,)).fetchone()
        return row is not None

    def initialize(self, account_id: int, session_hash: str, resend: bool = False) -> str | None:
        """Open (or, for Resend, renew) the pending reset; mail a code when there is an address."""
        with self.store.write() as db:
            if (
                resend
                and not db.execute(
                    "SELECT 1 FROM pending_reset WHERE account_id = ?", (account_id,)
                ).fetchone()
            ):
                raise Refusal("nothing_pending", "RESET_CONFIRMATION_MAIL", None)
            address = db.execute("SELECT address FROM account WHERE id = ?", (account_id,)).fetchone()[
                "address"
            ]
            if address:  # before the reset opens: a refusal leaves it as it was
                self.may_mail(db, account_id, address)
            db.execute(
                "INSERT OR REPLACE INTO pending_reset (account_id, session_hash, opened) VALUES (?, ?, ?)",
                (account_id, session_hash, self.clock.now()),
            )
            code = self.issue(db, account_id, "reset") if address else ""
        if address:
            self._send(account_id, "reset", address, code)
        return address if address else None

    def confirm_reset(self, account_id: int, session_hash: str, raw: str, field: str) -> None:
        """The confirmation code, in the session that opened the reset: void apps, address, codes."""
        code = self._code(raw, "confirmation_code.digits", "RESET_CODE_DIGITS", field)
        p = self.profile

        def check(db: sqlite3.Connection, now: float) -> bool | None:
            pending = db.execute("SELECT * FROM pending_reset WHERE account_id = ?", (account_id,)).fetchone()
            if pending is None:
                return None
            if pending["session_hash"] != session_hash:
                return False  # bound to the reset session that opened it
            spent = self.spend(db, account_id, "reset", code, now)
            return None if spent is None else bool(spent)

        def success(db: sqlite3.Connection, now: float) -> None:
            row = db.execute("SELECT address FROM account WHERE id = ?", (account_id,)).fetchone()
            self.mail_read(db, row["address"])
            if p.flag("reset.voids_apps"):
                db.execute("DELETE FROM app WHERE account_id = ?", (account_id,))
            if p.flag("reset.clears_email"):
                db.execute("UPDATE account SET address = NULL WHERE id = ?", (account_id,))
            db.execute("UPDATE account SET pending_secret = NULL WHERE id = ?", (account_id,))
            for table in ("code", "pending_reset", "trust"):
                db.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
            db.execute(
                "DELETE FROM session WHERE account_id = ? AND token_hash != ?", (account_id, session_hash)
            )

        self.attempt(account_id, "RESET_CODE_SINGLE_USE", check, success)

    def helpdesk_issue(self, login_id: str) -> str:
        """The operator's code for a pending reset of an account without an address (never mailed)."""
        with self.store.write() as db:
            row = db.execute("SELECT id, address FROM account WHERE login_id = ?", (login_id,)).fetchone()
            if row is None:
                raise HelpdeskError(f"no account {login_id!r}")
            if row["address"]:
                raise HelpdeskError(f"account {login_id!r} has a registered address: it resets by mail")
            if not db.execute("SELECT 1 FROM pending_reset WHERE account_id = ?", (row["id"],)).fetchone():
                raise HelpdeskError(f"account {login_id!r} has no pending reset (Initialize was not pressed)")
            return self.issue(db, int(row["id"]), "reset")
