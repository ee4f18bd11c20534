"""The Ninsho driver for privacyIDEA, written against ``ninsho.conformance.interfaces`` as a vendor would.

privacyIDEA is an OTP *server*, not a portal: it verifies codes (``POST /validate/check``) and
leaves passwords, screens and sessions to whatever sits in front of it. So the driver maps what
privacyIDEA has and declares the rest not applicable, with the reason:

* an **account** is a pair of token serials (``<login id>-APP``, ``<login id>-MAIL``) without a
  privacyIDEA user: ``/validate/check`` takes a serial, so no user store (resolver, realm) is
  needed. The account's *password* is the email token's PIN, which is what privacyIDEA checks
  before it mails a code;
* **login** has no first factor in privacyIDEA: ``login()`` sends nothing and answers
  ``first_factor`` for an account with an enrolled token (and NOT_APPLICABLE for one without:
  there is neither a password to check nor a set-up stage to go to);
* the **app** second factor is ``/validate/check serial=<APP> pass=<code>``;
* the **email** second factor is privacyIDEA's challenge-response: ``pass=<PIN>`` mails a code
  and answers a ``transaction_id``; ``pass=<code> transaction_id=<id>`` checks it. The pending
  transaction belongs to the *account* (kept in a book shared by all browsers), as the pending
  code of a portal does, so a code mailed in one browser can be entered in another;
* **enrolment** is the operator's (``interfaces.Enroller``): ``POST /token/init`` as privacyIDEA's
  admin, the TOTP token with a secret the harness knows;
* there is no session, so ``logout()`` ends nothing and says so; registration screens, the reset
  ("Initialize") flow, the helpdesk and "Trust this browser" raise ``NotSupported``.

The clock is real time, measured from the ``Date`` header gunicorn puts on every answer.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ninsho.conformance.api import (
    Account,
    ConfigError,
    DriverError,
    Exchange,
    ImapMailbox,
    Inconclusive,
    NotSupported,
    Outcome,
    PortalConfig,
    Profile,
    Provisioning,
    RealClock,
    ServerError,
    SmtpSinkMailbox,
    Target,
    mailbox_for,
)

TIMEOUT_SECONDS = 120.0  # a busy privacyIDEA queues requests: slow is not broken
ADMIN_USER = "admin"
SECRET_BYTES = 20  # privacyIDEA's own genkey length for HOTP/TOTP (160 bits, RFC 4226 §4 R6)

NO_FIRST_FACTOR = (
    "privacyIDEA has no first factor and no set-up stage: it checks one-time codes for enrolled "
    "tokens, and passwords and the set-up screens belong to the portal in front of it"
)
NO_ADDRESS_SCREEN = (
    "privacyIDEA has no address-registration screen with a confirmation code: an email token's "
    "address is set when the token is enrolled (POST /token/init type=email), here by the operator"
)
NO_APP_SCREEN = (
    "privacyIDEA has no app-registration screen for this driver's accounts: they are token serials "
    "without a privacyIDEA user, so the operator enrols the TOTP token (POST /token/init type=totp)"
)
NO_RESET = (
    "privacyIDEA has no reset ('Initialize') flow with a mailed confirmation code: an administrator "
    "deletes and re-enrols tokens (DELETE /token, POST /token/init)"
)
NO_HELPDESK = "privacyIDEA has no helpdesk confirmation code: there is no reset flow for it to confirm"
NO_TRUST = "privacyIDEA has no 'Trust this browser': every /validate/check is judged on its own"
NO_SESSION = (
    "privacyIDEA keeps no session: each /validate/check stands alone (the driver sends the PIN with "
    "every code request), so whether a login expires cannot be asked of it"
)


@dataclass
class Tokens:
    """What privacyIDEA holds for one account, and its pending email challenge."""

    pin: str
    app: str | None = None
    mail: str | None = None
    transaction_id: str | None = None


@dataclass
class AccountBook:
    """The accounts of one run, shared by the operator and every browser (thread-safe)."""

    accounts: dict[str, Tokens] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, login_id: str) -> Tokens | None:
        with self.lock:
            return self.accounts.get(login_id)

    def serials(self) -> list[str]:
        with self.lock:
            return [s for t in self.accounts.values() for s in (t.app, t.mail) if s]


def _message(body: dict[str, Any]) -> str:
    detail = body.get("detail") or {}
    error = (body.get("result") or {}).get("error") or {}
    return str(detail.get("message") or error.get("message") or "")


def _error_code(message: str) -> str:
    """privacyIDEA's message as a short error code, for the report."""
    text = message.lower()
    for needle, code in (
        ("previous otp used again", "replayed"),
        ("failcounter exceeded", "account_locked"),  # the kind of conformance/refusals.py
        ("challenge", "challenge_refused"),
        ("wrong otp pin", "pin_or_code_rejected"),
        ("wrong otp", "code_rejected"),
    ):
        if needle in text:
            return code
    return "refused"


class Api:
    """privacyIDEA's REST API: one request, its evidence, and the admin session."""

    def __init__(self, client: httpx.Client, admin_user: str, admin_password: str) -> None:
        self.client = client
        self._admin = (admin_user, admin_password)
        self._headers: dict[str, str] | None = None
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        admin: bool = False,
        shown: str = "",
    ) -> tuple[dict[str, Any], Exchange]:
        """The JSON answer of a 2xx; a 5xx is a ServerError, no answer or a refusal of the
        admin's set-up a DriverError (ERROR, never FAIL, unless a check provoked the 5xx)."""
        headers = self._admin_headers() if admin else {}
        try:
            response = self.client.request(method, path, json=body, headers=headers)
            if admin and response.status_code == 401:  # the admin's session token expired
                response = self.client.request(
                    method, path, json=body, headers=self._admin_headers(renew=True)
                )
        except httpx.HTTPError as exc:
            raise DriverError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise ServerError(
                f"{method} {path}: {response.status_code} {response.text[:200]}", response.status_code
            )
        try:
            answer = response.json()
        except json.JSONDecodeError:
            raise DriverError(
                f"{method} {path}: not JSON ({response.status_code}) {response.text[:200]}"
            ) from None
        result = answer.get("result") or {}
        evidence = Exchange(
            path,
            f"{method} {shown}",
            f"{response.status_code} {result.get('authentication') or ''} {_message(answer)}",
        )
        if response.status_code >= 400 or not result.get("status"):
            raise DriverError(
                f"{method} {path}: {response.status_code} {_message(answer) or response.text[:200]}"
            )
        return answer, evidence

    def _admin_headers(self, renew: bool = False) -> dict[str, str]:
        with self._lock:
            if self._headers is None or renew:
                user, password = self._admin
                try:
                    answer = self.client.post("/auth", data={"username": user, "password": password})
                except httpx.HTTPError as exc:
                    raise DriverError(f"POST /auth: {exc}") from None
                if answer.status_code != 200:
                    raise DriverError(
                        f"privacyIDEA refused the admin ({user}): {answer.status_code} {answer.text[:200]}"
                    )
                self._headers = {
                    "Authorization": str(answer.json()["result"]["value"]["token"])
                }  # no "Bearer"
            return self._headers


@dataclass(frozen=True)
class Timing:
    """What a browser needs to know of time: the portal's clock, the TOTP step, and how long a
    login may be relied on before only a session (which privacyIDEA has not) could explain it."""

    clock: RealClock
    period_seconds: int
    session_seconds: int


class PrivacyIdeaDriver:
    """One browser. It remembers which account logged in; privacyIDEA itself keeps no session."""

    name = "privacyidea"

    def __init__(self, api: Api, book: AccountBook, timing: Timing) -> None:
        self.api, self.book, self.timing = api, book, timing
        self.account: Account | None = None
        self.logged_in_at = 0.0

    def fresh(self) -> PrivacyIdeaDriver:
        return PrivacyIdeaDriver(self.api, self.book, self.timing)

    def _tokens(self) -> tuple[Account, Tokens]:
        tokens = self.book.get(self.account.login_id) if self.account else None
        if self.account is None or tokens is None:
            raise DriverError("a code was submitted with no account logged in (the check's order is broken)")
        return self.account, tokens

    def _check(self, serial: str, password: str, shown: str, transaction_id: str | None = None) -> Outcome:
        body = {"serial": serial, "pass": password}
        if transaction_id:
            body["transaction_id"] = transaction_id
        answer, evidence = self.api.request("POST", "/validate/check", body, shown=f"serial={serial} {shown}")
        result, detail = answer["result"], answer.get("detail") or {}
        message = _message(answer)
        if result.get("value") is True:
            return Outcome(ok=True, stage="authenticated", message_en=message, evidence=[evidence])
        if result.get("authentication") == "CHALLENGE" and detail.get("transaction_id"):
            data = {
                "transaction_id": str(detail["transaction_id"]),
                "valid_until": (detail.get("attributes") or {}).get("valid_until"),
            }
            return Outcome(ok=True, stage="first_factor", message_en=message, data=data, evidence=[evidence])
        return Outcome(ok=False, error=_error_code(message), message_en=message, evidence=[evidence])

    # first factor
    def login(self, account: Account) -> Outcome:
        tokens = self.book.get(account.login_id)
        if tokens is None or not (tokens.app or tokens.mail):
            raise NotSupported(NO_FIRST_FACTOR)
        self.account, self.logged_in_at = account, self.timing.clock.now()
        methods = [name for name, serial in (("app", tokens.app), ("email", tokens.mail)) if serial]
        note = Exchange(
            "login", "(nothing sent: privacyIDEA has no first factor)", f"first_factor, methods {methods}"
        )
        return Outcome(ok=True, stage="first_factor", data={"methods": methods}, evidence=[note])

    def login_for_setup(self, account: Account) -> Outcome:
        raise NotSupported(NO_RESET)

    # second factor
    def request_email_code(self) -> Outcome:
        account, tokens = self._tokens()
        if tokens.mail is None:
            return Outcome(
                ok=False, error="no_email_token", message_en=f"{account.login_id} has no email token"
            )
        if self.timing.clock.now() - self.logged_in_at > self.timing.session_seconds:
            raise NotSupported(NO_SESSION)
        outcome = self._check(tokens.mail, tokens.pin, "pass=<PIN>")
        if outcome.ok and outcome.stage == "first_factor":
            with self.book.lock:
                tokens.transaction_id = str(outcome.data["transaction_id"])
            return outcome
        return Outcome(
            ok=False,
            error=outcome.error or "no_challenge",
            message_en=outcome.message_en,
            evidence=outcome.evidence,
        )

    def submit_app_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        if trust_browser:
            raise NotSupported(NO_TRUST)
        _, tokens = self._tokens()
        if tokens.app is None:
            return Outcome(ok=False, error="no_app_token", message_en="no TOTP token enrolled")
        period, clock = self.timing.period_seconds, self.timing.clock
        sent = clock.now()
        outcome = self._check(tokens.app, code, f"pass={code}")
        answered = clock.now()
        if int(sent // period) != int(answered // period):
            # A busy privacyIDEA queued the request across a step boundary: which step it judged
            # the code against is unknown, so neither an acceptance nor a refusal can be counted.
            raise Inconclusive(
                f"a TOTP check took {answered - sent:.1f} s and crossed a step boundary ({sent:.1f} s to"
                f" {answered:.1f} s): the machine or the network was too slow to tell"
            )
        return outcome

    def submit_email_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        if trust_browser:
            raise NotSupported(NO_TRUST)
        _, tokens = self._tokens()
        if tokens.mail is None:
            return Outcome(ok=False, error="no_email_token", message_en="no email token enrolled")
        with self.book.lock:
            transaction_id = tokens.transaction_id
        return self._check(tokens.mail, code, f"pass={code} transaction_id={transaction_id}", transaction_id)

    # settings: Mail tab and App tab
    def settings(self) -> Outcome:
        raise NotSupported(NO_ADDRESS_SCREEN)

    def register_email(self, address: str) -> Outcome:
        raise NotSupported(NO_ADDRESS_SCREEN)

    def confirm_email(self, code: str) -> Outcome:
        raise NotSupported(NO_ADDRESS_SCREEN)

    def start_app_registration(self) -> Provisioning:
        raise NotSupported(NO_APP_SCREEN)

    def register_app(self, code: str) -> Outcome:
        raise NotSupported(NO_APP_SCREEN)

    # reset
    def initialize(self) -> Outcome:
        raise NotSupported(NO_RESET)

    def resend(self) -> Outcome:
        raise NotSupported(NO_RESET)

    def confirm_reset(self, code: str) -> Outcome:
        raise NotSupported(NO_RESET)

    def logout(self) -> Outcome:
        """Nothing to end: /validate/check is stateless. The probes log out between attempts, so
        this succeeds (rather than raising) and the browser forgets the account."""
        self.account = None
        return Outcome(
            ok=True, evidence=[Exchange("logout", "(nothing sent: privacyIDEA keeps no session)", "ok")]
        )


class PrivacyIdeaOperator:
    """Accounts and enrolment as privacyIDEA's administrator (interfaces.Operator and Enroller)."""

    def __init__(self, api: Api, book: AccountBook, address_domain: str) -> None:
        self.api, self.book, self.domain = api, book, address_domain

    def new_account(self) -> Account:
        """A login ID that names the account's serials, and a PIN for its email token."""
        login_id = "nsh" + secrets.token_hex(5)
        pin = secrets.token_urlsafe(9)
        with self.book.lock:
            self.book.accounts[login_id] = Tokens(pin)
        return Account(login_id, pin, f"{login_id}@{self.domain}")

    def _entry(self, account: Account) -> Tokens:
        tokens = self.book.get(account.login_id)
        if tokens is None:
            raise DriverError(f"{account.login_id} was not made by this operator")
        return tokens

    def enrol_app(self, account: Account) -> str:
        """A TOTP token with privacyIDEA's defaults and a secret the harness knows; the URI is the
        one privacyIDEA shows (its ``googleurl``), so digits, period and algorithm are privacyIDEA's."""
        tokens = self._entry(account)
        serial, secret = f"{account.login_id}-APP", secrets.token_bytes(SECRET_BYTES)
        answer, _ = self.api.request(
            "POST",
            "/token/init",
            {"type": "totp", "serial": serial, "genkey": 0, "otpkey": secret.hex()},
            admin=True,
        )
        uri = str(((answer.get("detail") or {}).get("googleurl") or {}).get("value") or "")
        shown = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
        if base64.b32decode(shown + "=" * (-len(shown) % 8)) != secret:
            raise DriverError(f"privacyIDEA's otpauth URI for {serial} does not hold the enrolled secret")
        with self.book.lock:
            tokens.app = serial
        return uri

    def enrol_email(self, account: Account) -> None:
        """An email token to the account's address, with the account's password as its PIN."""
        tokens = self._entry(account)
        serial = f"{account.login_id}-MAIL"
        body = {"type": "email", "serial": serial, "email": account.address, "pin": tokens.pin}
        self.api.request("POST", "/token/init", body, admin=True)
        with self.book.lock:
            tokens.mail = serial

    def helpdesk_code(self, login_id: str) -> Outcome:
        raise NotSupported(NO_HELPDESK)


class PrivacyIdeaConnection:
    """The session-wide link: one HTTP client, the account book, the mailbox and the real clock."""

    def __init__(self, config: PortalConfig, profile: Profile) -> None:
        if not config.base_url:
            raise ConfigError("portal.base_url", "is required for the privacyidea driver")
        if config.clock != "real":
            raise ConfigError("clock.mode", "privacyIDEA has no test clock: use real")
        self.config, self.profile = config, profile
        self.client = httpx.Client(base_url=config.base_url.rstrip("/"), timeout=TIMEOUT_SECONDS)
        password = config.secret(config.admin_token_env, "admin.token_env")
        self.api = Api(self.client, ADMIN_USER, password)
        self.book = AccountBook()
        self.clock = RealClock(self.client)
        self.timing = Timing(self.clock, profile.totp_period_seconds, profile.session_first_factor_seconds)
        self.operator = PrivacyIdeaOperator(self.api, self.book, config.address_domain)
        self.mailbox: SmtpSinkMailbox | ImapMailbox = mailbox_for(config, self.clock.now)

    @property
    def margin_seconds(self) -> float:
        """Away from every time boundary by the clock's uncertainty and a round trip, and by the
        queue of a busy server: privacyIDEA answers in about 0.1 s alone, but seconds when every
        check enrols at once (the real-time checks run concurrently)."""
        return 4.0 + 2 * self.clock.uncertainty

    def target(self) -> Target:
        return Target(
            profile=self.profile,
            operator=self.operator,
            mailbox=self.mailbox,
            clock=self.clock,
            new_driver=lambda: PrivacyIdeaDriver(self.api, self.book, self.timing),
            margin_seconds=self.margin_seconds,
            mail_timeout_seconds=self.config.mail_timeout_seconds,
        )

    def close(self) -> None:
        """Delete the run's tokens (best effort: the server may already be gone), then let go."""
        try:
            for serial in self.book.serials():
                self.api.request("DELETE", f"/token/{serial}", admin=True)
        except DriverError:
            pass
        finally:
            self.mailbox.close()
            self.client.close()


def connect(config: PortalConfig, profile: Profile) -> PrivacyIdeaConnection:
    """The entry point ``ninsho.drivers: privacyidea``."""
    return PrivacyIdeaConnection(config, profile)
