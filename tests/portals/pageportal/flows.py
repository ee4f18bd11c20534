"""The screens' logic, free of HTTP and markup: which stage may see what, and what comes next.

A skin turns a request into a ``Visit`` (screen, action, form fields under logical names) and
an ``Outcome`` back into a page or a redirect; both skins share every rule here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import segno

from . import codes
from .actions import Portal
from .address import mask
from .codes import grouped
from .engine import Session
from .refusals import Refusal

# Who may see a screen: None means no session is needed.
STAGES: dict[str, frozenset[str] | None] = {
    "login": None,
    "relogin": None,
    "logout": None,
    "mfa_app": frozenset({"first_factor"}),
    "mfa_mail": frozenset({"first_factor"}),
    "home": frozenset({"authenticated"}),
    "mail": frozenset({"setup", "authenticated"}),
    "app": frozenset({"setup", "authenticated"}),
    "init": frozenset({"reset"}),
    "reset": frozenset({"reset"}),
}

# The logical fields each action accepts, and which of them must be present.
FIELDS: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {
    ("login", "submit"): (
        frozenset({"login_id", "password", "remember"}),
        frozenset({"login_id", "password"}),
    ),
    ("relogin", "submit"): (frozenset({"login_id", "password"}), frozenset({"login_id", "password"})),
    ("mfa_app", "submit"): (frozenset({"code", "trust"}), frozenset({"code"})),
    ("mfa_mail", "send"): (frozenset({"code", "trust"}), frozenset()),
    ("mfa_mail", "submit"): (frozenset({"code", "trust"}), frozenset({"code"})),
    ("mail", "send"): (frozenset({"address", "code"}), frozenset({"address"})),
    ("mail", "confirm"): (frozenset({"address", "code"}), frozenset({"code"})),
    ("app", "register"): (frozenset({"code"}), frozenset({"code"})),
    ("init", "submit"): (frozenset(), frozenset()),
    ("reset", "resend"): (frozenset({"code"}), frozenset()),
    ("reset", "confirm"): (frozenset({"code"}), frozenset({"code"})),
}
MAX_INPUT = 1024


@dataclass
class Visit:
    """One request as the flows see it."""

    method: str
    screen: str
    action: str | None
    form: dict[str, str] = field(default_factory=dict)
    session_token: str | None = None
    trust_token: str | None = None
    remembered: str | None = None
    client: str = ""  # the peer's address, which the password throttle counts by (spec §3.1)


@dataclass
class Outcome:
    """A page to render or a screen to redirect to, and the cookies to set ("" deletes)."""

    screen: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    redirect: str | None = None
    error: Refusal | None = None
    cookies: dict[str, tuple[str, int | None]] = field(default_factory=dict)


def _text(value: str, name: str, limit: int = MAX_INPUT) -> str:
    """Refuse over-long input and control characters (a password may hold anything else)."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise Refusal("invalid_input", "INPUT_ERRORS_PRECISE", name)
    return _bounded(value, name, limit)


def _bounded(value: str, name: str, limit: int = MAX_INPUT) -> str:
    """Refuse over-long input only: an address goes to protocol.md §13 as typed, which strips
    White_Space (TAB, CR, LF among them) at its ends before it refuses a control character."""
    if len(value) > limit:
        raise Refusal("invalid_input", "INPUT_ERRORS_PRECISE", name)
    return value


class Flows:
    """Dispatches a Visit to its screen or action."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.profile = portal.profile

    def handle(self, visit: Visit) -> Outcome:
        """GET shows a screen, POST runs an action; a refused action shows its screen again."""
        if visit.screen == "logout":
            self.portal.end_session(visit.session_token)
            return Outcome(redirect="login", cookies={"session": ("", None)})
        sess = self._gate(visit)
        if visit.method == "GET" or visit.action is None:
            return self.show(visit.screen, sess, visit)
        allowed, required = FIELDS[(visit.screen, visit.action)]
        try:
            for name in visit.form:
                if name not in allowed:
                    raise Refusal("invalid_input", "INPUT_ERRORS_PRECISE", name)
            for name in sorted(required):
                if not visit.form.get(name, ""):
                    raise Refusal("invalid_input", "INPUT_ERRORS_PRECISE", name)
            return getattr(self, f"do_{visit.screen}_{visit.action}")(visit, sess)
        except Refusal as refusal:
            if refusal.kind in ("session_expired", "stage", "csrf"):
                raise
            again = self.show(visit.screen, sess, visit)
            if again.redirect:  # the screen itself is gone (e.g. no pending reset): a plain error page
                return Outcome(screen="error", error=refusal, status=refusal.status)
            again.error, again.status = refusal, refusal.status
            again.data["typed"] = {k: v for k, v in visit.form.items() if k not in ("password", "code")}
            return again

    def _gate(self, visit: Visit) -> Session | None:
        stages = STAGES[visit.screen]
        if stages is None:
            return None
        sess = self.portal.session(visit.session_token)
        if sess.stage not in stages:
            raise Refusal("stage", "SECOND_FACTOR_REQUIRED")
        return sess

    # --- screens ------------------------------------------------------------------------------
    def show(self, screen: str, sess: Session | None, visit: Visit) -> Outcome:
        """The data a screen shows, before any action."""
        data: dict[str, Any] = {"trust_enabled": self.profile.num("trust_browser.duration_seconds") > 0}
        if screen == "login":
            data["remembered"] = visit.remembered or ""
        if sess is not None:
            acct = self.portal.account(sess.account_id)
            data.update(login_id=acct.login_id, stage=sess.stage, address=acct.address, apps=acct.app_count)
            if screen == "mfa_app" and acct.app_count == 0:
                return Outcome(redirect="mfa_mail")
            if screen == "mail":
                data["blocked"] = self.profile.domains()
                data["masked"] = mask(acct.address) if acct.address else None
            if screen == "app":
                secret = self.portal.pending_secret(acct.id)
                uri = self.portal.provisioning(acct.login_id, secret)
                png = segno.make(uri, error="m").png_data_uri(scale=5)
                data.update(uri=uri, secret=secret, key=grouped(secret), qr=png)
            if screen == "reset":
                if not self.portal.has_pending_reset(acct.id):
                    return Outcome(redirect="init")
                placeholder = self.profile.text("reset.placeholder_address")
                data["shown_address"] = mask(acct.address) if acct.address else placeholder
            if screen == "mfa_mail" and acct.address:
                data["masked"] = mask(acct.address)
        return Outcome(screen=screen, data=data)

    def _after_password(self, account_id: int, visit: Visit, reset: bool) -> Outcome:
        old = (
            codes.token_hash(visit.session_token) if visit.session_token else None
        )  # the session it replaces
        if reset:
            sess, target = self.portal.open_session(account_id, "reset", old), "init"
        else:
            acct = self.portal.account(account_id)
            if acct.address is None and acct.app_count == 0:
                sess, target = self.portal.open_session(account_id, "setup", old), "mail"
            elif self.portal.trusted(visit.trust_token, account_id):
                sess, target = self.portal.open_session(account_id, "authenticated", old), "home"
            else:
                target = "mfa_app" if acct.app_count else "mfa_mail"
                sess = self.portal.open_session(account_id, "first_factor", old)
        return Outcome(redirect=target, cookies={"session": (sess.token, None)})

    def _password(self, visit: Visit) -> int:
        login_id = _text(visit.form["login_id"], "login_id").strip()
        password = _text(visit.form["password"], "password")
        account_id = self.portal.authenticate(login_id, password, visit.client, visit.trust_token)
        if account_id is None:
            raise Refusal("bad_credentials", "FIRST_FACTOR_PASSWORD")
        return account_id

    def _promote(self, sess: Session, stage: str, target: str, notice: str | None = None) -> Outcome:
        new = self.portal.open_session(sess.account_id, stage, sess.token_hash, same_login=True)
        out = self.show(target, new, Visit("GET", target, None)) if notice else Outcome(redirect=target)
        if notice:
            out.data["notice"] = notice
        out.cookies["session"] = (new.token, None)
        return out

    # --- actions ------------------------------------------------------------------------------
    def do_login_submit(self, visit: Visit, sess: Session | None) -> Outcome:
        """First factor; remember the ID only when the box is ticked."""
        account_id = self._password(visit)
        out = self._after_password(account_id, visit, reset=False)
        if visit.form.get("remember"):
            out.cookies["remember"] = (visit.form["login_id"].strip(), 60 * 60 * 24 * 365)
        else:
            out.cookies["remember"] = ("", None)
        return out

    def do_relogin_submit(self, visit: Visit, sess: Session | None) -> Outcome:
        """ID and password again, even after a first factor; no second factor on this path."""
        return self._after_password(self._password(visit), visit, reset=True)

    def _second_factor_passed(self, visit: Visit, sess: Session) -> Outcome:
        out = self._promote(sess, "authenticated", "home")
        if visit.form.get("trust"):
            token = self.portal.grant_trust(sess.account_id)
            if token:
                out.cookies["trust"] = (token, self.profile.num("trust_browser.duration_seconds"))
        return out

    def do_mfa_app_submit(self, visit: Visit, sess: Session) -> Outcome:
        """App code as the second factor."""
        self.portal.verify_app(sess.account_id, visit.form["code"], "code")
        return self._second_factor_passed(visit, sess)

    def do_mfa_mail_send(self, visit: Visit, sess: Session) -> Outcome:
        """Mail a login code to the registered address."""
        address = self.portal.send_login_code(sess.account_id)
        out = self.show("mfa_mail", sess, visit)
        out.data["sent_to"] = mask(address)
        return out

    def do_mfa_mail_submit(self, visit: Visit, sess: Session) -> Outcome:
        """Mailed code as the second factor."""
        self.portal.verify_login_code(sess.account_id, visit.form["code"], "code")
        return self._second_factor_passed(visit, sess)

    def do_mail_send(self, visit: Visit, sess: Session) -> Outcome:
        """ "Send One-Time Password" on the Mail tab."""
        address = self.portal.start_registration(
            sess.account_id, _bounded(visit.form["address"], "address"), "address"
        )
        out = self.show("mail", sess, visit)
        out.data["sent_to"] = address
        return out

    def do_mail_confirm(self, visit: Visit, sess: Session) -> Outcome:
        """ "Confirm" on the Mail tab: the address becomes the registered one."""
        self.portal.confirm_registration(sess.account_id, visit.form["code"], "code")
        self.portal.end_other_setup_sessions(sess.account_id, sess.token_hash)
        return self._promote(sess, "authenticated", "mail", "mail_done")

    def do_app_register(self, visit: Visit, sess: Session) -> Outcome:
        """ "Register" on the App tab."""
        self.portal.register_app(sess.account_id, visit.form["code"], "code")
        self.portal.end_other_setup_sessions(sess.account_id, sess.token_hash)
        out = self._promote(sess, "authenticated", "app", "app_done")
        if not self.portal.account(sess.account_id).address:
            out.data["no_address_warning"] = True
        return out

    def do_init_submit(self, visit: Visit, sess: Session) -> Outcome:
        """ "Initialize": open the reset, mail the code (or wait for the helpdesk)."""
        self.portal.initialize(sess.account_id, sess.token_hash)
        return Outcome(redirect="reset")

    def do_reset_resend(self, visit: Visit, sess: Session) -> Outcome:
        """ "Resend": a new code, the old one void, the failure count kept."""
        self.portal.initialize(sess.account_id, sess.token_hash, resend=True)
        out = self.show("reset", sess, visit)
        out.data["notice"] = "resent"
        return out

    def do_reset_confirm(self, visit: Visit, sess: Session) -> Outcome:
        """ "Confirm": the reset is done and the account sets up anew."""
        self.portal.confirm_reset(sess.account_id, sess.token_hash, visit.form["code"], "code")
        return self._promote(sess, "setup", "mail", "reset_done")
