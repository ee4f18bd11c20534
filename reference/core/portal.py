"""The portal of the manuals as a sans-I/O state machine.

Each public method is one user action of the manuals (or an operator action), runs as one
``Store.transact`` on one account, and returns a typed outcome or raises a
:class:`~.errors.NinshoError`. Which stage allows a session action, and which stage follows it,
is the table of :mod:`.stages`. Sessions are opaque tokens ``<login id, base64>.<secret>``; the
store only ever sees their digests.

Two kinds of seam are public, so that a variant (such as the deliberately faulty portals of
``ninsho.reference.faults``) never needs a private method: the :class:`~.rules.Rules` passed in,
and :meth:`Portal.transaction`, the one place where a session action meets the store.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ninsho.spec.profile import Profile

from . import addresses, links, otp
from .errors import (
    AccountLocked,
    AuthenticationFailed,
    CodeRejected,
    InvalidInput,
    MailNotSent,
    NothingPending,
    NotPermitted,
    RateLimited,
    SessionExpired,
    UnknownAccount,
)
from .mail import HELPDESK_PURPOSE, compose, compose_helpdesk_notice, compose_link
from .passwords import MAX_PASSWORD_CHARS, PasswordHasher
from .ports import Clock, Mailer, OutgoingMail, RandomSource, Store
from .rules import Rules
from .stages import TABLE, Action, destination
from .state import AccountState, AppRegistration, Guard, IssuedCode, Purpose, Session, Stage, TrustedBrowser

T = TypeVar("T")
# The keys of the limits' guards (state.Guard): by login ID, known or not, and by address.
PASSWORD_GUARD, MAIL_GUARD = "password:", "mail:"
# The notices to the ICT Support Center are counted by account, under the mail guard: the center
# has one inbox for every account, so a count by its address would let one account's clicks
# hold back everyone's notice (protocol.md §12.4). No address has this form: it has no "@".
NOTICE_OF = "notice-of:"
LOGIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")  # \Z: "$" also matches before a final "\n"
# The longest trust token looked up: the reference issues 32 characters (24 bytes of base64url).
MAX_TRUST_TOKEN_CHARS = 128


@dataclass(frozen=True)
class LoginResult:
    session: str
    stage: Stage
    methods: tuple[str, ...]  # "app", "email": the second factors the account has


@dataclass(frozen=True)
class CodeSent:
    address: str  # where the mail went [MESSAGE_EMAIL_SENT]


@dataclass(frozen=True)
class Verified:
    stage: Stage
    trust_token: str | None  # set when "Trust this browser" was ticked [TRUST_BROWSER]
    session: str | None = None  # the session's new token; the one it had is dead [SESSION_TOKEN_RENEWED]


@dataclass(frozen=True)
class AppProvisioning:
    uri: str  # [APP_PROVISIONING_URI]
    manual_key: str  # [APP_MANUAL_KEY]


@dataclass(frozen=True)
class ResetScreen:
    """What the "Initializing One-Time Password Settings" screen shows [RESET_SCREEN]."""

    login_id: str
    shown_address: str  # masked, or the placeholder when none is registered
    mailed: bool


@dataclass(frozen=True)
class SettingsView:
    login_id: str
    stage: Stage
    address: str | None
    app_count: int


class Portal:
    def __init__(
        self,
        profile: Profile,
        store: Store,
        mailer: Mailer,
        clock: Clock,
        random: RandomSource,
        *,
        pepper: bytes,
        hasher: PasswordHasher | None = None,
        rules: type[Rules] = Rules,
    ) -> None:
        if len(pepper) < 16:
            raise ValueError("the pepper must be at least 16 bytes")
        self.profile = profile
        self.store = store
        self.mailer = mailer
        self.clock = clock
        self.random = random
        self.pepper = pepper
        self.hasher = hasher or PasswordHasher()
        self.rules = rules(profile, pepper)
        # Where the 2021 portal's reset link points (reset.mode = "link"): the web face sets its own.
        self.link_base = links.DEFAULT_LINK_BASE

    # --- operator ------------------------------------------------------------------------
    def add_user(self, login_id: str, password: str) -> None:
        self._check_login_id(login_id)
        self._check_password(password)
        self.store.create(AccountState(login_id, self.hasher.hash(password, self.random)))

    def remove_user(self, login_id: str) -> None:
        self._check_login_id(login_id)  # as every operator action: no account has such an ID
        if not self.store.delete(login_id):
            raise UnknownAccount(f"No account {login_id!r}.", f"アカウント {login_id!r} はありません。")

    def users(self) -> list[str]:
        return sorted(self.store.login_ids())

    # --- first factor [FIRST_FACTOR_PASSWORD] ---------------------------------------------
    def login(
        self, login_id: str, password: str, *, trust_token: str | None = None, client: str = ""
    ) -> LoginResult:
        """The login screen. A valid trusted-browser token skips the second factor. ``client``
        is the network address the edge saw, which the password throttle counts by
        [PASSWORD_THROTTLE]."""
        self._authenticate(login_id, password, client=client, trust_token=trust_token)
        now = self.clock.now()

        def change(state: AccountState) -> LoginResult:
            if not state.has_factor:
                stage = Stage.SETUP  # [SETUP_WITHOUT_FACTOR]
            elif self._trusted(state, trust_token, now):
                stage = Stage.AUTHENTICATED
            else:
                stage = Stage.FIRST_FACTOR
            token = self._open_session(state, stage, now)
            methods = tuple(m for m, has in (("app", state.apps), ("email", state.address)) if has)
            return LoginResult(token, stage, methods)

        return self.store.transact(login_id, change)

    def login_for_reset(self, login_id: str, password: str, *, client: str = "") -> LoginResult:
        """ "Click here For Initial Setup or Setup Again", then ID and password again
        [RESET_REAUTHENTICATE]; throttled with the login, in one count [PASSWORD_THROTTLE]."""
        self._authenticate(login_id, password, client=client)
        now = self.clock.now()

        def change(state: AccountState) -> LoginResult:
            return LoginResult(self._open_session(state, Stage.RESET, now), Stage.RESET, ())

        return self.store.transact(login_id, change)

    # --- second factor --------------------------------------------------------------------
    def send_login_code(self, session: str) -> CodeSent:
        """ "Click Here for Multi-Factor Authentication : Email Login" [EMAIL_OTP_TO_REGISTERED_ADDRESS]."""

        def action(state: AccountState, _: Session, now: float) -> tuple[list[str], str] | AccountLocked:
            if state.address is None:
                raise NothingPending(
                    "No address for email-authentication is registered.",
                    "メール認証用アドレスが登録されていません。",
                    requirement="EMAIL_OTP_TO_REGISTERED_ADDRESS",
                )
            locked = self.rules.mail_refusal(state, now)  # [MAIL_RATE_LIMIT]
            if locked:
                return locked
            return list(state.addresses), self._issue(state, Purpose.LOGIN, now, state.address, resend=True)

        # Every registered address gets the code: one under a correct profile (max_addresses = 1).
        with self._mail_slot(self._mail_address(session)):
            addresses, code = self._act(session, Action.REQUEST_EMAIL_CODE, action)
        for address in addresses:
            self._mail(Purpose.LOGIN, address, code)
        return CodeSent(addresses[-1])

    def verify_app_code(self, session: str, code: str, *, trust_browser: bool = False) -> Verified:
        code = self.rules.clean_code(code, self.profile.totp_digits, "TOTP_DIGITS")

        def action(state: AccountState, s: Session, now: float) -> Verified | CodeRejected | AccountLocked:
            outcome = self.rules.verify_totp(state, code, now)
            if not isinstance(outcome, AppRegistration):
                return outcome
            return self._verified(Action.SUBMIT_APP_CODE, state, s, now, trust_browser)

        return self._act(session, Action.SUBMIT_APP_CODE, action)

    def verify_email_code(self, session: str, code: str, *, trust_browser: bool = False) -> Verified:
        code = self.rules.clean_code(code, self.profile.email_otp_digits, "EMAIL_OTP_DIGITS")

        def action(state: AccountState, s: Session, now: float) -> Verified | CodeRejected | AccountLocked:
            outcome = self.rules.consume_code(state, Purpose.LOGIN, code, now)
            if not isinstance(outcome, IssuedCode):
                return outcome
            return self._verified(Action.SUBMIT_EMAIL_CODE, state, s, now, trust_browser)

        return self._act(session, Action.SUBMIT_EMAIL_CODE, action)

    # --- settings: the Mail tab ------------------------------------------------------------
    def settings(self, session: str) -> SettingsView:
        def action(state: AccountState, s: Session, _: float) -> SettingsView:
            return SettingsView(state.login_id, s.stage, state.address, len(state.apps))

        return self._act(session, Action.SETTINGS, action)

    def start_email_registration(self, session: str, address: str) -> CodeSent:
        """ "Send One-Time Password" to the address to be registered [EMAIL_REGISTRATION_CONFIRM]."""
        normalized = self.rules.check_address(address)

        def action(state: AccountState, _: Session, now: float) -> str | AccountLocked:
            locked = self.rules.mail_refusal(state, now)  # [MAIL_RATE_LIMIT]
            if locked:
                return locked
            return self._issue(state, Purpose.REGISTER_EMAIL, now, normalized, resend=True)

        with self._mail_slot(normalized):
            code = self._act(session, Action.REGISTER_EMAIL, action)
        self._mail(Purpose.REGISTER_EMAIL, normalized, code)
        return CodeSent(normalized)

    def confirm_email_registration(self, session: str, code: str) -> CodeSent:
        code = self.rules.clean_code(code, self.profile.email_otp_digits, "EMAIL_OTP_DIGITS")

        def action(state: AccountState, s: Session, now: float) -> CodeSent | CodeRejected | AccountLocked:
            outcome = self.rules.consume_code(state, Purpose.REGISTER_EMAIL, code, now)
            if not isinstance(outcome, IssuedCode):
                return outcome
            assert outcome.address is not None  # registration codes always carry their address
            self.rules.register_address(state, outcome.address)
            self.rules.factor_registered(state, s)  # [STALE_SESSIONS_END]
            return CodeSent(outcome.address)

        return self._act(session, Action.CONFIRM_EMAIL, action)

    # --- settings: the App tab -------------------------------------------------------------
    def start_app_registration(self, session: str) -> AppProvisioning:
        """Show the QR code. Nothing is registered yet [APP_REGISTER_REQUIRES_CODE]."""
        secret = self.random.randbytes(self.profile.totp_secret_bytes)  # [TOTP_SECRET_STRENGTH]

        def action(state: AccountState, _: Session, __: float) -> AppProvisioning:
            state.pending_app_secret_hex = secret.hex()
            p = self.profile
            uri = otp.ProvisioningUri(
                secret, p.totp_issuer, state.login_id, p.totp_digits, p.totp_period_seconds, p.totp_algorithm
            )
            return AppProvisioning(str(uri), otp.base32_secret(secret))

        return self._act(session, Action.START_APP_REGISTRATION, action)

    def confirm_app_registration(self, session: str, code: str) -> str:
        """ "Register" with the code the app shows; returns the new registration's ID."""
        code = self.rules.clean_code(code, self.profile.totp_digits, "TOTP_DIGITS")

        app_id = self._new_id()

        def action(state: AccountState, s: Session, now: float) -> str | CodeRejected | AccountLocked:
            outcome = self.rules.register_app(state, code, now, app_id)
            if not isinstance(outcome, AppRegistration):
                return outcome
            self.rules.factor_registered(state, s)  # [STALE_SESSIONS_END]
            return outcome.app_id

        return self._act(session, Action.REGISTER_APP, action)

    # --- reset ("Initialize") ---------------------------------------------------------------
    def initialize(self, session: str) -> ResetScreen:
        return self._send_reset_code(session, Action.INITIALIZE)

    def resend(self, session: str) -> ResetScreen:
        """ "Resend": a new code that voids the old one [RESEND_VOIDS_PREVIOUS]."""
        return self._send_reset_code(session, Action.RESEND)

    def confirm_reset(self, session: str, code: str) -> Stage:
        """ "Confirm": voids the apps (and the address) and opens set-up anew [RESET_THEN_SETUP]."""
        if self._by_link:
            raise self._link_only()
        code = self.rules.clean_code(code, self.profile.confirmation_code_digits, "RESET_CODE_DIGITS")

        def action(state: AccountState, s: Session, now: float) -> Stage | CodeRejected | AccountLocked:
            if not state.reset_pending:
                raise self._nothing_pending("RESET_CONFIRMATION_MAIL")
            outcome = self.rules.consume_code(state, Purpose.RESET, code, now)
            if not isinstance(outcome, IssuedCode):
                return outcome
            self.rules.apply_reset(state)
            state.sessions.keep(lambda v: v is s)
            return destination(Action.CONFIRM_RESET)

        return self._act(session, Action.CONFIRM_RESET, action)

    def helpdesk_issue_code(self, login_id: str) -> str:
        """The ICT Support Center reads out a code for an account with no address
        [HELPDESK_ISSUES_CODE] [HELPDESK_PENDING_ONLY]."""
        self._check_login_id(login_id)
        if self._by_link:
            raise self._link_only()
        now = self.clock.now()

        def change(state: AccountState) -> str:
            if not state.reset_pending or state.address is not None:
                raise self._nothing_pending("HELPDESK_PENDING_ONLY")
            return self._issue(state, Purpose.RESET, now, None, resend=True)

        return self.store.transact(login_id, change)

    # --- the 2021 portal: reset by link (protocol.md §19) --------------------------------------
    def open_reset_link(self, token: str, login_id: str, password: str, *, client: str = "") -> LoginResult:
        """FAQ 5–6: the URL in the mail, then ID and password again: the settings are
        initialized and set-up opens anew [RESET_LINK_REQUIRES_PASSWORD] [RESET_THEN_SETUP]."""
        token = links.check_token(token)
        self._check_login_id(login_id)  # every field's form before the portal's mode, as the binding's
        self._check_password(password)  # request schema draws it (spec/openapi.yaml ResetLinkRequest)
        if not self._by_link:
            raise self._nothing_pending("RESET_LINK_MAIL")
        self.reauthenticate_for_link(login_id, password, client=client)
        now = self.clock.now()

        def change(state: AccountState) -> LoginResult | CodeRejected:
            spent = self.rules.consume_link(state, token, now)
            if not isinstance(spent, IssuedCode):
                return spent
            self.rules.apply_reset(state)
            # The spent token stays, marked used, so that opening it again is known for what it is.
            state.codes.append(spent)
            state.sessions.clear()  # the reset sessions too: the link, not they, finished the reset
            return LoginResult(self._open_session(state, Stage.SETUP, now), Stage.SETUP, ())

        result = self.store.transact(self.link_owner(login_id, token), change)
        if isinstance(result, CodeRejected):
            raise result
        state = self.store.load(login_id)
        spent = [c for c in state.codes if c.used and c.address is not None] if state else []
        for code in spent:  # the link was the mail's secret: its owner read it [MAIL_RATE_LIMIT]
            assert code.address is not None
            self._mail_used(code.address, now)
        return result

    def helpdesk_confirm_reset(self, login_id: str) -> None:
        """FAQ "ICT Support Center" ②: once the center has confirmed the caller, the pending
        reset of an account with no address is done, and the screen the user left open (a
        ``reset`` session) moves on to set-up by itself, as its next poll finds
        [RESET_LINK_HELPDESK_CONFIRM]."""
        self._check_login_id(login_id)
        if not self._by_link:
            raise NothingPending(
                "This portal initializes by a confirmation code: issue one for the caller to enter.",
                "このポータルでは確認コードで初期化します。確認コードを発行して利用者に伝えてください。",
                requirement="HELPDESK_ISSUES_CODE",
            )
        now = self.clock.now()

        def change(state: AccountState) -> None:
            if not state.reset_pending or state.address is not None:
                raise self._nothing_pending("RESET_LINK_HELPDESK_CONFIRM")
            self.rules.apply_reset(state)
            self.open_screens_move_on(state, now)

        self.store.transact(login_id, change)
        self._mail_used(NOTICE_OF + login_id, now)  # the center has answered: its count starts again

    def open_screens_move_on(self, state: AccountState, now: float) -> None:
        """The reset screens left open go on to set-up, as their next poll finds; an expired one
        is dropped, not revived (protocol.md §19.5). A public seam, for the faulty portal whose
        screen never moves on [RESET_LINK_HELPDESK_CONFIRM]."""
        for key, s in list(state.sessions.items()):
            if s.stage is not Stage.RESET:
                continue
            if self._expired(s, now):
                del state.sessions[key]
            else:
                s.stage, s.last_seen = Stage.SETUP, now

    def notices_counted_as(self, login_id: str) -> str | None:
        """What the notices of ``login_id``'s "初期化" to the center count under, as mails to
        one address do: the account, not the center's one address (protocol.md §12.4)
        [MAIL_RATE_LIMIT]. A public seam, for the faulty portal that mails the center at every
        click; None counts nothing."""
        return NOTICE_OF + login_id

    def helpdesk_recipient(self, login_id: str) -> str:
        """Where "初期化" of an account with no address sends its notice: the ICT Support
        Center, ``helpdesk.email``. A public seam, for the faulty portal that mails the user's
        missing address instead [RESET_LINK_HELPDESK_MAIL]."""
        return self.profile.helpdesk_email

    def reauthenticate_for_link(self, login_id: str, password: str, *, client: str = "") -> None:
        """The ID and password the link's screen asks for again, throttled with the login: a
        public seam, so that a deliberately faulty portal can skip it
        [RESET_LINK_REQUIRES_PASSWORD] [PASSWORD_THROTTLE]."""
        self._authenticate(login_id, password, client=client)

    def link_owner(self, login_id: str, token: str) -> str:
        """The account a link acts on: the one that logged in on the link's screen, and no other
        [RESET_LINK_BOUND_TO_ACCOUNT]. A public seam for the faulty portal that looks a token
        up across accounts."""
        return login_id

    # --- logout [LOGOUT] -------------------------------------------------------------------
    def logout(self, session: str) -> None:
        """Ends the session: the table's "ended" does it, so there is nothing else to do."""

        def action(_: AccountState, __: Session, ___: float) -> None:
            return None

        self._act(session, Action.LOGOUT, action)

    # --- the hook around every session action -----------------------------------------------
    def transaction(self, action: Action, login_id: str, change: Callable[[AccountState], T]) -> T:
        """Run the ``change`` of one session ``action`` as one atomic ``Store.transact``.

        The one place where a session action meets the store, public as a hook: a variant can
        wrap it (to time or log an action), and a deliberately faulty portal overrides it to
        break the atomicity of one action, as a check-then-write implementation does. ``change``
        checks the session and its stage, runs the action and moves the stage (:mod:`.stages`);
        it returns the action's outcome, or a refusal that the portal raises once the change
        is committed (so that the failure count it added is kept).
        """
        return self.store.transact(login_id, change)

    # --- internals -------------------------------------------------------------------------
    @property
    def _by_link(self) -> bool:
        return self.profile.reset_mode == "link"

    def _send_reset_code(self, session: str, name: Action) -> ResetScreen:
        """A confirmation code, or in link mode a link's token, mailed to the address."""

        def action(
            state: AccountState, _: Session, now: float
        ) -> tuple[str | None, str | None] | AccountLocked:
            address = state.address
            locked = self.rules.mail_refusal(state, now) if address is not None else None
            if locked:  # nothing is mailed to a locked account, nor opened [MAIL_RATE_LIMIT]
                return locked
            state.reset_pending = True
            if address is None:  # [RESET_NO_ADDRESS_PLACEHOLDER]: the helpdesk issues the code
                return None, None
            if not self._by_link:
                return address, self._issue(state, Purpose.RESET, now, address, resend=True)
            token = self.rules.new_link_token(self.random, now)  # [RESET_LINK_TOKEN_STRENGTH]
            self.rules.issue_code(state, Purpose.RESET, token, now, address, resend=True)
            return address, token

        login_id = self._split(session)[0]
        counted = self._mail_address(session)
        if counted is None and self._by_link:
            counted = self.notices_counted_as(login_id)
        with self._mail_slot(counted):
            address, secret = self._act(session, name, action)
        if address is None or secret is None:
            if self._by_link:  # "An email has been sent to the ICT Support Center."
                to = self.helpdesk_recipient(login_id)  # [RESET_LINK_HELPDESK_MAIL]
                self._deliver(compose_helpdesk_notice(self.profile, to, login_id))
            return ResetScreen(login_id, self.profile.reset_placeholder_address, mailed=False)
        if self._by_link:  # [RESET_LINK_MAIL]
            self._deliver(compose_link(self.profile, address, links.link_for(self.link_base, secret)))
        else:
            self._mail(Purpose.RESET, address, secret)
        return ResetScreen(login_id, addresses.mask(address), mailed=True)

    def _issue(
        self, state: AccountState, purpose: Purpose, now: float, to: str | None, *, resend: bool
    ) -> str:
        code = otp.random_code(self.random, self.rules.digits_for(purpose))
        self.rules.issue_code(state, purpose, code, now, to, resend=resend)
        return code

    def _mail(self, purpose: Purpose, to: str, code: str) -> None:
        self._deliver(compose(self.profile, purpose, to, code))

    def _deliver(self, mail: OutgoingMail) -> None:
        """Sent after the code is committed, so a relay failure loses nothing: "Resend" works."""
        try:
            self.mailer.send(mail)
        except MailNotSent:
            raise
        except Exception as exc:  # any relay fault becomes the manuals' guidance
            raise MailNotSent(
                "The email could not be sent. Please try again later, or contact the ICT Support Center.",
                "メールを送信できませんでした。時間をおいて再度お試しいただくか、情報環境支援センターにご連絡ください。",
                requirement=self._mail_requirement(mail.purpose),
            ) from exc

    def _verified(
        self, name: Action, state: AccountState, s: Session, now: float, trust_browser: bool
    ) -> Verified:
        """A passed second factor: the session's new token, and the "Trust this browser" token
        if it was ticked."""
        token = None
        if trust_browser and self.profile.trust_browser_duration_seconds > 0:
            secret = self._new_id()
            expires = now + self.profile.trust_browser_duration_seconds
            state.trusted_browsers[self._digest(state.login_id, "trust", secret)] = TrustedBrowser(expires)
            token = secret
        return Verified(destination(name), token, self.renewed_token(state, s))

    def _trusted(self, state: AccountState, token: str | None, now: float) -> bool:
        state.trusted_browsers = {k: t for k, t in state.trusted_browsers.items() if now < t.expires_at}
        if not isinstance(token, str) or not token or len(token) > MAX_TRUST_TOKEN_CHARS:
            return False
        return self._digest(state.login_id, "trust", token) in state.trusted_browsers

    def _open_session(self, state: AccountState, stage: Stage, now: float) -> str:
        state.sessions.keep(lambda s: not self._expired(s, now))
        return self._file_session(state, Session(stage, now, now))

    def _file_session(self, state: AccountState, s: Session) -> str:
        """Keep ``s`` under a new token from the injected random source; the token, as the
        client sends it."""
        secret = self._new_id()
        state.sessions[self._digest(state.login_id, "session", secret)] = s
        login = base64.urlsafe_b64encode(state.login_id.encode()).decode().rstrip("=")
        return f"{login}.{secret}"

    def renewed_token(self, state: AccountState, s: Session) -> str | None:
        """The second factor has passed: ``s`` goes on under a new token, and the token it had,
        which the password step gave out, is dropped, so that a copy of it signs nobody in
        (NIST SP 800-63B §7.1: a session secret is generated in direct response to the
        authentication event) [SESSION_TOKEN_RENEWED]. Its times go with it: the absolute
        lifetime still counts from the login. A public seam, for the faulty portal that keeps
        the token; None means the token stays."""
        state.sessions.end(s)
        return self._file_session(state, s)

    def _expired(self, s: Session, now: float) -> bool:
        p = self.profile
        if now >= s.created_at + p.session_absolute_seconds:  # however active [SESSION_ABSOLUTE_LIFETIME]
            return True
        if s.stage in (Stage.FIRST_FACTOR, Stage.RESET):
            return now >= s.created_at + p.session_first_factor_seconds
        return now >= s.last_seen + p.session_idle_seconds

    def _act(
        self,
        session: str,
        name: Action,
        action: Callable[[AccountState, Session, float], T | CodeRejected | AccountLocked],
    ) -> T:
        """Run ``action`` in the session's account if the table lets its stage do ``name``, and
        move the stage as the table says if it is accepted; commit, then raise a refusal the
        action returned (so its failure count is kept, and its stage is unchanged)."""
        login_id, secret = self._split(session)
        now = self.clock.now()
        transition = TABLE[name]
        used: list[str] = []  # the addresses whose mailed code this action used [MAIL_RATE_LIMIT]

        def change(state: AccountState) -> T | CodeRejected | AccountLocked | SessionExpired:
            key = self._digest(login_id, "session", secret)
            s = state.sessions.get(key)
            if s is None or self._expired(s, now):
                state.sessions.pop(key, None)
                return self._session_expired()
            if s.stage not in transition.allowed:
                raise NotPermitted(
                    "This page is not available at this step. Please log in again.",
                    "この操作は現在の状態では行えません。再度ログインしてください。",
                    requirement="SETUP_WITHOUT_FACTOR"
                    if s.stage is Stage.SETUP
                    else "SECOND_FACTOR_REQUIRED",
                )
            s.last_seen = now
            live = [c for c in state.codes if c.address is not None and not c.used]
            outcome = action(state, s, now)
            used[:] = [c.address for c in live if c.used and c.address is not None]
            if not isinstance(outcome, (CodeRejected, AccountLocked)):
                after = transition.after(s.stage)
                if after is None:
                    state.sessions.pop(key, None)
                else:
                    s.stage = after
            return outcome

        try:
            result = self.transaction(name, login_id, change)
        except UnknownAccount:
            raise self._session_expired() from None
        if isinstance(result, (CodeRejected, AccountLocked, SessionExpired)):
            raise result
        for address in used:
            self._mail_used(address, now)
        return result

    # --- the mail limit [MAIL_RATE_LIMIT] (protocol.md §12.4) --------------------------------
    def _mail_address(self, session: str) -> str | None:
        """Where an action of ``session`` would mail: the account's address as it is now (the
        action reads it again in its own transaction)."""
        try:
            state = self.store.load(self._split(session)[0])
        except SessionExpired:
            return None
        return state.address if state is not None else None

    def _mail_slot(self, address: str | None) -> _MailSlot:
        """A mail to ``address`` counted before the action that will send it, and refused,
        changing nothing, when the address has had its most (the code mailed before stays
        live); a refused action takes its count back (``with``)."""
        return _MailSlot(self, address)

    def _mail_used(self, address: str, now: float) -> None:
        self.store.guard(MAIL_GUARD + address, now, self.rules.mail_used)

    def _split(self, session: str) -> tuple[str, str]:
        login, _, secret = session.partition(".") if isinstance(session, str) else ("", "", "")
        try:
            login_id = base64.urlsafe_b64decode(login + "=" * (-len(login) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise self._session_expired() from None
        if not LOGIN_ID.match(login_id) or not secret or len(secret) > 128:
            raise self._session_expired()
        return login_id, secret

    def _authenticate(
        self, login_id: str, password: str, *, client: str = "", trust_token: str | None = None
    ) -> None:
        """The password, throttled by login ID and client: a known and an unknown ID alike, so
        that neither the answer, its time nor the throttle tells which IDs exist
        [FIRST_FACTOR_NO_ENUMERATION] [PASSWORD_THROTTLE] (protocol.md §3.1)."""
        self._check_login_id(login_id)
        self._check_password(password)
        now = self.clock.now()
        state = self.store.load(login_id)
        trusted = self._trust_key(state, trust_token, now) if state is not None else None
        lane = self.rules.password_lane(client, trusted)
        key = PASSWORD_GUARD + login_id

        def reserve(guard: Guard) -> float | None:
            wait = self.rules.password_wait(guard, lane, now)
            if wait is None:
                self.rules.count_password_failure(guard, lane, now)
            return wait

        wait = self.store.guard(key, now, reserve)
        if wait is not None:
            raise _throttled(wait)
        # Hash even for an unknown ID, so timing does not tell which IDs exist.
        ok = self.hasher.verify_evenly(password, state.password_hash if state else None)
        if state is None or not ok:
            raise AuthenticationFailed(
                "The ECS-ID/SPS-ID or password is incorrect.",
                "ECS-ID/SPS-ID またはパスワードが正しくありません。",
            )
        self.store.guard(key, now, lambda guard: self.rules.forgive_password(guard, lane, now))

    def _trust_key(self, state: AccountState, token: str | None, now: float) -> str | None:
        """The digest of ``token`` when it is a live trust token of the account (the browser is
        a client of its own to the throttle), else None; ``state`` is a snapshot."""
        if not self._trusted(state, token, now):
            return None
        assert token is not None  # _trusted holds it a token
        return self._digest(state.login_id, "trust", token)

    def _digest(self, login_id: str, purpose: str, secret: str) -> str:
        return otp.code_digest(self.pepper, login_id, purpose, secret)

    def _new_id(self) -> str:
        return base64.urlsafe_b64encode(self.random.randbytes(24)).decode().rstrip("=")

    @staticmethod
    def _check_login_id(login_id: str) -> None:
        if not isinstance(login_id, str) or not LOGIN_ID.match(login_id):
            raise InvalidInput(
                "Enter a valid ECS-ID/SPS-ID (letters, digits, '.', '_', '-'; at most 64).",
                "正しい ECS-ID/SPS-ID を入力してください（英数字と「.」「_」「-」、64文字まで）。",
                requirement="FIRST_FACTOR_PASSWORD",
                field="login_id",
            )

    @staticmethod
    def _check_password(password: str) -> None:
        if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD_CHARS:
            raise InvalidInput(
                f"Enter a password of 1 to {MAX_PASSWORD_CHARS} characters.",
                f"パスワードは1〜{MAX_PASSWORD_CHARS}文字で入力してください。",
                requirement="FIRST_FACTOR_PASSWORD",
                field="password",
            )

    @staticmethod
    def _session_expired() -> SessionExpired:
        return SessionExpired(
            "Your session has ended. Please log in again.",
            "セッションの有効期限が切れました。再度ログインしてください。",
        )

    def _mail_requirement(self, purpose: str) -> str:
        if purpose == HELPDESK_PURPOSE:
            return "RESET_LINK_HELPDESK_MAIL"
        if purpose != Purpose.RESET.value:
            return "EMAIL_OTP_TO_REGISTERED_ADDRESS"
        return "RESET_LINK_MAIL" if self._by_link else "RESET_CONFIRMATION_MAIL"

    @staticmethod
    def _link_only() -> NothingPending:
        return NothingPending(
            "This portal initializes the settings by the URL in the email: open it, and log in there.",
            "このポータルではメールに記載されたURLから初期化します。URLを開いてログインしてください。",
            requirement="RESET_LINK_MAIL",
        )

    @staticmethod
    def _nothing_pending(requirement: str) -> NothingPending:
        return NothingPending(
            "There is no pending initialization for this account.",
            "このアカウントには初期化の手続き中のものがありません。",
            requirement=requirement,
        )


class _MailSlot:
    """``with portal._mail_slot(address):`` around the action that mails ``address``."""

    def __init__(self, portal: Portal, address: str | None) -> None:
        self.portal, self.address, self.now = portal, address, portal.clock.now()

    def __enter__(self) -> None:
        if self.address is None:
            return
        rules, now = self.portal.rules, self.now

        def reserve(guard: Guard) -> float | None:
            wait = rules.mail_wait(guard, now)
            if wait is None:
                rules.count_mail(guard, now)
            return wait

        wait = self.portal.store.guard(MAIL_GUARD + self.address, now, reserve)
        if wait is not None:
            raise _mail_limited(wait, self.address)

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None and self.address is not None:
            rules, now = self.portal.rules, self.now
            self.portal.store.guard(MAIL_GUARD + self.address, now, lambda g: rules.uncount_mail(g, now))


def _seconds(wait: float) -> int:
    """Whole seconds, rounded up: what Retry-After says."""
    return max(1, int(-(-wait // 1)))


def _throttled(wait: float) -> RateLimited:
    """The same answer for a right password and a wrong one, for a known ID and an unknown one
    [PASSWORD_THROTTLE] [FIRST_FACTOR_NO_ENUMERATION]."""
    n = _seconds(wait)
    return RateLimited(
        f"Too many wrong passwords for this ECS-ID/SPS-ID. Try again in {n} seconds.",
        f"パスワードの誤りが続いたため、このECS-ID/SPS-IDではしばらくログインできません。{n}秒後に再度お試しください。",
        requirement="PASSWORD_THROTTLE",
        retry_after=n,
    )


def _mail_limited(wait: float, counted: str) -> RateLimited:
    n = _seconds(wait)
    if counted.startswith(NOTICE_OF):
        return RateLimited(
            f"The ICT Support Center has already been emailed several times for this account. Try again in"
            f" {n} seconds, or please call the ICT Support Center.",
            f"このアカウントについて情報環境支援センターへのメール送信が続いたため、しばらく送信できません。{n}秒後に再度お試しいただくか、"
            "情報環境支援センターまでお電話ください。",
            requirement="MAIL_RATE_LIMIT",
            retry_after=n,
        )
    return RateLimited(
        f"Too many one-time passwords were sent to this address. Try again in {n} seconds,"
        " or use the one already sent.",
        f"このアドレスへのワンタイムパスワードの送信が続いたため、しばらく送信できません。{n}秒後に再度お試しいただくか、"
        "送信済みのものをお使いください。",
        requirement="MAIL_RATE_LIMIT",
        retry_after=n,
    )


__all__ = [
    "AppProvisioning",
    "CodeSent",
    "LoginResult",
    "Portal",
    "ResetScreen",
    "SettingsView",
    "Verified",
]
