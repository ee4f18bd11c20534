"""The in-process driver: the embedded reference portal, called directly, with virtual time.

It is the only part of the harness that imports ``reference``; everything above it sees the
interfaces of :mod:`ninsho.conformance.interfaces`, as with any other portal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from itertools import count
from typing import Any

from ninsho.conformance.interfaces import (
    Account,
    DriverError,
    Exchange,
    Mail,
    MailTimeout,
    Outcome,
    Provisioning,
    ServerError,
    names,
)
from ninsho.conformance.refusals import kind_of
from ninsho.reference.clocks import VirtualClock
from ninsho.reference.core import links
from ninsho.reference.core.errors import MailNotSent, NinshoError
from ninsho.reference.core.portal import Portal
from ninsho.reference.core.ports import OutgoingMail
from ninsho.reference.embedded import Embedded
from ninsho.reference.outbox import Outbox
from ninsho.reference.smtp import build_message


def _plain(value: Any) -> dict[str, Any]:
    """The core's answer as the JSON driver would see it: enums as their values. Shallow on
    purpose: the core's answers are flat, and ``dataclasses.asdict`` deep-copies (it was a tenth
    of the embedded run's time)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _value(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return dict(value)
    return {"value": getattr(value, "value", value)}


def _value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return getattr(value, "value", value)


class InProcessDriver:
    name = "inprocess"

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.session: str | None = None
        self.trust_token: str | None = None  # the "Trust this browser" cookie of this browser

    def fresh(self) -> InProcessDriver:
        return InProcessDriver(self.portal)

    def copy_session(self) -> InProcessDriver:
        """Another browser holding this one's session token as it is now (interfaces.SessionCopier)."""
        copy = InProcessDriver(self.portal)
        copy.session = self.session
        return copy

    def _call(self, action: str, fn: Callable[[], Any], request: str = "") -> Outcome:
        try:
            result = fn()
        except NinshoError as exc:
            return Outcome(
                ok=False,
                error=kind_of(exc.status_hint, exc.code, exc.requirement),  # as the JSON driver tells it
                requirement=exc.requirement,
                message_ja=exc.message_ja,
                message_en=exc.message_en,
                data={
                    "field": exc.field,
                    "status": exc.status_hint,
                    "error_name": exc.code,
                    "retry_after": getattr(exc, "retry_after", None),  # what Retry-After would say
                },
                evidence=[Exchange(action, request, f"{exc.status_hint} {exc.code} [{exc.requirement}]")],
            )
        except DriverError:
            raise
        except Exception as exc:  # what the HTTP edge would answer with a 500 (a faulty portal's crash)
            raise ServerError(f"{action}: the portal raised {type(exc).__name__}: {exc}") from exc
        data = _plain(result)
        stage = (
            data.get("stage") if "stage" in data else (data["value"] if action == "confirm_reset" else None)
        )
        return Outcome(ok=True, stage=stage, data=data, evidence=[Exchange(action, request, "ok")])

    def _with_session(self, action: str, fn: Callable[[str], Any], request: str = "") -> Outcome:
        return self._call(action, lambda: fn(self.session or "-"), request)

    def login(self, account: Account) -> Outcome:
        def go() -> Any:
            result = self.portal.login(account.login_id, account.password, trust_token=self.trust_token)
            self.session = result.session
            return result

        return self._call("login", go, f"login_id={account.login_id} password=***")

    def login_for_setup(self, account: Account) -> Outcome:
        def go() -> Any:
            result = self.portal.login_for_reset(account.login_id, account.password)
            self.session = result.session
            return result

        return self._call("login_for_setup", go, f"login_id={account.login_id} password=***")

    def request_email_code(self) -> Outcome:
        return self._with_session("request_email_code", self.portal.send_login_code)

    def submit_app_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        outcome = self._with_session(
            "submit_app_code",
            lambda s: self.portal.verify_app_code(s, code, trust_browser=trust_browser),
            "code=***",
        )
        self._keep_trust(outcome)
        return outcome

    def submit_email_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        outcome = self._with_session(
            "submit_email_code",
            lambda s: self.portal.verify_email_code(s, code, trust_browser=trust_browser),
            "code=***",
        )
        self._keep_trust(outcome)
        return outcome

    def _keep_trust(self, outcome: Outcome) -> None:
        """The "Trust this browser" token, kept as the cookie would be; and the session's new
        token, used from now on as the JSON driver does (protocol.md §4.1)."""
        token = outcome.data.pop("trust_token", None)
        if token:
            self.trust_token = token
        renewed = outcome.data.pop("session", None)
        if isinstance(renewed, str) and renewed:
            self.session = renewed

    def settings(self) -> Outcome:
        return self._with_session("settings", self.portal.settings)

    def register_email(self, address: str) -> Outcome:
        return self._with_session(
            "register_email",
            lambda s: self.portal.start_email_registration(s, address),
            f"address={address!r}",
        )

    def confirm_email(self, code: str) -> Outcome:
        return self._with_session(
            "confirm_email", lambda s: self.portal.confirm_email_registration(s, code), "code=***"
        )

    def start_app_registration(self) -> Provisioning:
        """No QR code to show is not a verdict of its own: as in the JSON driver, the check
        that needed one cannot go on (DriverError), and says why."""
        try:
            result = self.portal.start_app_registration(self.session or "-")
        except NinshoError as exc:
            raise DriverError(f"the App tab showed no QR code: {exc.code} [{exc.requirement}]") from None
        return Provisioning(result.uri, result.manual_key)

    def register_app(self, code: str) -> Outcome:
        return self._with_session(
            "register_app", lambda s: self.portal.confirm_app_registration(s, code), "code=***"
        )

    def initialize(self) -> Outcome:
        return self._with_session("initialize", self.portal.initialize)

    def resend(self) -> Outcome:
        return self._with_session("resend", self.portal.resend)

    def confirm_reset(self, code: str) -> Outcome:
        return self._with_session("confirm_reset", lambda s: self.portal.confirm_reset(s, code), "code=***")

    def open_reset_link(self, url: str, account: Account) -> Outcome:
        """The reset mail's URL, as a browser would send it: the core reads the token from it."""

        def go() -> Any:
            result = self.portal.open_reset_link(links.token_of(url), account.login_id, account.password)
            self.session = result.session
            return result

        return self._call("open_reset_link", go, f"url=<link> login_id={account.login_id} password=***")

    def watch_reset_screen(self, timeout_seconds: float) -> Outcome:
        """The screen left open asks the portal, as the page's poll does, whether it may go on:
        the settings of this session (refused while it is still a reset session). In process the
        answer is the portal's state now, so one look is enough: nothing is on its way."""
        return self._with_session("watch_reset_screen", self.portal.settings)

    def logout(self) -> Outcome:
        return self._with_session("logout", self.portal.logout)


class InProcessOperator:
    """Test accounts and the helpdesk of the embedded portal."""

    def __init__(self, portal: Portal, prefix: str = "t") -> None:
        self.portal = portal
        self._numbers = count(1)
        self._prefix = prefix

    def new_account(self) -> Account:
        n = next(self._numbers)
        account = Account(f"{self._prefix}{n:07d}", f"pw-{n}-secret", f"user{n}@example.com")
        self.portal.add_user(account.login_id, account.password)
        return account

    def helpdesk_code(self, login_id: str) -> Outcome:
        driver = InProcessDriver(self.portal)
        return driver._call("helpdesk_code", lambda: {"code": self.portal.helpdesk_issue_code(login_id)})

    def helpdesk_confirm(self, login_id: str) -> Outcome:
        """Link mode's center confirms the pending reset (protocol.md §19.5)."""

        def confirm() -> dict[str, str]:
            self.portal.helpdesk_confirm_reset(login_id)
            return {"login_id": login_id, "stage": "setup"}

        return InProcessDriver(self.portal)._call("helpdesk_confirm", confirm, f"login_id={login_id}")


class OutboxMailbox:
    """Reads the embedded outbox, whose mails carry the virtual time they were sent at."""

    quiet_seconds = 0.0  # the core mails before it answers: what is not there now never comes

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def wait_for(self, to: str, *, subject: str | None = None, since: float, timeout: float) -> Mail:
        """The newest mail to ``to`` since ``since``: by recipient and time, never by subject."""
        return self.wait_for_containing(to, "", subject=subject, since=since, timeout=timeout)

    def wait_for_containing(
        self, to: str, text: str, *, subject: str | None = None, since: float, timeout: float
    ) -> Mail:
        candidates = [
            Mail(m.to, m.sender, m.subject, m.body, sent_at, raw=_wire(m, sent_at))
            for m, sent_at in self.outbox.dated
            if m.to.lower() == to.lower() and sent_at >= since and names(m.body, text)
        ]
        if not candidates:
            raise MailTimeout(f"no mail to {to} since {since}")
        return candidates[-1]


def _wire(mail: OutgoingMail, sent_at: float) -> bytes:
    """The mail as the reference's SMTP edge would send it, for the checks of its encoding."""
    try:
        return bytes(build_message(mail, now=sent_at))
    except MailNotSent:
        return b""  # a header the edge refuses to send: judged as MAIL_HEADER_INJECTION elsewhere


class VirtualPortalClock:
    kind = "virtual"

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now()

    def advance(self, seconds: float) -> None:
        self._clock.advance(seconds)


def inprocess_parts(
    embedded: Embedded,
) -> tuple[InProcessDriver, InProcessOperator, OutboxMailbox, VirtualPortalClock]:
    """Driver, operator, mailbox and clock for an embedded portal built on a VirtualClock."""
    if not isinstance(embedded.clock, VirtualClock):
        raise TypeError("the in-process driver needs the embedded portal's VirtualClock")
    return (
        InProcessDriver(embedded.portal),
        InProcessOperator(embedded.portal),
        OutboxMailbox(embedded.outbox),
        VirtualPortalClock(embedded.clock),
    )
