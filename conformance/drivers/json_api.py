"""The JSON driver: the HTTP binding of spec/openapi.yaml, over httpx.

One driver is one browser: it keeps the session token the portal gave at login and the
"Trust this browser" token, as a browser keeps cookies. Every request and answer is recorded
as evidence; the transcript layer redacts codes, secrets and tokens.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from ninsho.conformance.clocks import LANE_HEADER, RealClock, TestClock
from ninsho.conformance.config import PortalConfig
from ninsho.conformance.errors import ConfigError
from ninsho.conformance.helpdesk import CommandHelpdesk, command_helpdesk
from ninsho.conformance.interfaces import (
    Account,
    Driver,
    DriverError,
    Exchange,
    Operator,
    Outcome,
    Provisioning,
    ServerError,
)
from ninsho.conformance.leftovers import Journal
from ninsho.conformance.mailboxes import mailbox_for
from ninsho.conformance.messages import one_line
from ninsho.conformance.pool import AccountPool, Parts, pool_for
from ninsho.conformance.refusals import kind_of
from ninsho.conformance.target import Target
from ninsho.conformance.transcript import RecordingMailbox, Transcript
from ninsho.spec.profile import Profile

API_PREFIX = "/api/v1/"
TIMEOUT_SECONDS = 15.0
DELETE_CONCURRENCY = 4  # the run's accounts deleted at once when it ends (the portal's commits overlap)
POLL_SECONDS = 0.25  # how often a reset screen left open asks whether it may go on (§19.5)


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json() if response.content else {}
    except json.JSONDecodeError:
        hint = " (is [portal] base_url the portal's root?)" if response.status_code == 404 else ""
        raise DriverError(
            f"{response.request.method} {response.request.url.path}: not JSON ({response.status_code}"
            f" {one_line(response.text, 120)}){hint}"
        ) from None
    if not isinstance(body, dict):
        raise DriverError(f"{response.request.url.path}: a JSON object was expected")
    return body


def call(
    client: httpx.Client, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
) -> Outcome:
    """One request, as an :class:`Outcome`: a 4xx is the portal's refusal (its kind in
    ``error``, refusals.kind_of; the name the portal gave in ``data["error_name"]``), a 5xx a
    :class:`ServerError` and no answer a :class:`DriverError` (ERROR, not FAIL, unless a check
    provoked the 5xx on purpose)."""
    try:
        response = client.request(method, path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DriverError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 500:  # before the body: a crash seldom answers in JSON
        raise ServerError(
            f"{method} {path}: {response.status_code} {one_line(response.text, 300)}", response.status_code
        )
    data = _answer(response)
    evidence = [
        Exchange(
            path,
            f"{method} {json.dumps(body, ensure_ascii=False) if body else ''}",
            f"{response.status_code} {json.dumps(data, ensure_ascii=False)[:600]}",
        )
    ]
    if response.status_code >= 400:
        message = data.get("message") or {}
        name, requirement = data.get("error"), data.get("requirement")
        return Outcome(
            ok=False,
            # the kind, by the status and the requirement where the name is not the binding's
            error=kind_of(response.status_code, name if isinstance(name, str) else None, requirement),
            requirement=requirement,
            message_ja=str(message.get("ja", "")),
            message_en=str(message.get("en", "")),
            data={
                "field": data.get("field"),
                "status": response.status_code,
                "error_name": name,
                "retry_after": response.headers.get("retry-after"),  # 429: RFC 9110 §10.2.3
            },
            evidence=evidence,
        )
    return Outcome(ok=True, stage=data.get("stage"), data=data, evidence=evidence)


class JsonDriver:
    name = "json"

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.session: str | None = None
        self.trust_token: str | None = None

    def fresh(self) -> JsonDriver:
        return JsonDriver(self.client)

    def copy_session(self) -> JsonDriver:
        """Another client holding this one's session token as it is now (interfaces.SessionCopier):
        the API token a thief copies, without the "Trust this browser" token."""
        copy = JsonDriver(self.client)
        copy.session = self.session
        return copy

    def _post(self, path: str, body: dict[str, Any] | None = None, *, method: str = "POST") -> Outcome:
        headers = {"Authorization": f"Bearer {self.session}"} if self.session else {}
        outcome = call(self.client, method, path, body, headers)
        renewed = outcome.data.get("session") if outcome.ok else None
        if isinstance(renewed, str) and renewed:  # a new token at a change of stage (protocol §4.1)
            self.session = renewed
        return outcome

    def _login(self, path: str, account: Account, extra: dict[str, Any]) -> Outcome:
        outcome = self._post(path, {"login_id": account.login_id, "password": account.password, **extra})
        if outcome.ok:
            self.session = str(outcome.data.get("session"))
        return outcome

    def login(self, account: Account) -> Outcome:
        return self._login("login", account, {"trust_token": self.trust_token})

    def login_for_setup(self, account: Account) -> Outcome:
        return self._login("login-for-setup", account, {})

    def request_email_code(self) -> Outcome:
        return self._post("second-factor/email-code")

    def _second_factor(self, path: str, code: str, trust_browser: bool) -> Outcome:
        outcome = self._post(path, {"code": code, "trust_browser": trust_browser})
        token = outcome.data.pop("trust_token", None)
        if token:
            self.trust_token = str(token)
        return outcome

    def submit_app_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        return self._second_factor("second-factor/app", code, trust_browser)

    def submit_email_code(self, code: str, *, trust_browser: bool = False) -> Outcome:
        return self._second_factor("second-factor/email", code, trust_browser)

    def settings(self) -> Outcome:
        return self._post("settings", method="GET")

    def register_email(self, address: str) -> Outcome:
        return self._post("settings/email", {"address": address})

    def confirm_email(self, code: str) -> Outcome:
        return self._post("settings/email/confirm", {"code": code})

    def start_app_registration(self) -> Provisioning:
        outcome = self._post("settings/app")
        if not outcome.ok:
            raise DriverError(f"the App tab showed no QR code: {outcome.error} [{outcome.requirement}]")
        return Provisioning(str(outcome.data["uri"]), str(outcome.data["manual_key"]))

    def register_app(self, code: str) -> Outcome:
        return self._post("settings/app/register", {"code": code})

    def initialize(self) -> Outcome:
        return self._post("reset/initialize")

    def resend(self) -> Outcome:
        return self._post("reset/resend")

    def confirm_reset(self, code: str) -> Outcome:
        return self._post("reset/confirm", {"code": code})

    def open_reset_link(self, url: str, account: Account) -> Outcome:
        """The reset mail's URL (protocol.md §19.4): its one query parameter ``token`` goes to
        ``openResetLink`` with the ID and password. A URL with anything else in its query is
        sent as the whole query, for the portal to refuse: the driver repairs no link."""
        query = urlsplit(url).query
        pairs = parse_qsl(query, keep_blank_values=True)
        token = pairs[0][1] if len(pairs) == 1 and pairs[0][0] == "token" else query
        return self._login("reset/link", account, {"token": token})

    def watch_reset_screen(self, timeout_seconds: float) -> Outcome:
        """The open screen's poll of the JSON binding (protocol.md §19.5): ``settings`` in this
        session, refused as "stage not allowed" while the reset waits for the center, answered
        with ``stage`` setup after its confirm. Asked again every :data:`POLL_SECONDS` until
        ``timeout_seconds`` have passed; any other refusal ends the watch at once."""
        deadline = time.monotonic() + timeout_seconds
        evidence = []
        while True:
            outcome = self.settings()
            evidence += outcome.evidence
            waiting = outcome.refused and outcome.error == "not_permitted"
            if not waiting or time.monotonic() >= deadline:
                outcome.evidence = evidence[:1] + evidence[1:][-2:]  # the polls between are alike
                return outcome
            time.sleep(POLL_SECONDS)

    def logout(self) -> Outcome:
        outcome = self._post("logout")
        self.session = None if outcome.ok else self.session
        return outcome


class AdminApiOperator:
    """Fresh accounts and the helpdesk through the reference's admin API (Bearer token).

    Every account it creates is deleted when the run ends (:meth:`close`), and written in a
    journal until then, so that the next run removes what a killed run left (leftovers.py).
    ``helpdesk``, when given (``[operator] command``), answers for the helpdesk instead."""

    def __init__(
        self,
        client: httpx.Client,
        admin_headers: dict[str, str],
        address_domain: str,
        helpdesk: CommandHelpdesk | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.client = client
        self.headers = admin_headers
        self.domain = address_domain
        self.helpdesk = helpdesk
        self.journal = journal or Journal(str(client.base_url))

    def new_account(self) -> Account:
        login_id = "nsh" + secrets.token_hex(6)
        account = Account(login_id, secrets.token_urlsafe(18), f"{login_id}@{self.domain}")
        created = self._create(login_id, account.password)
        if not created.ok:
            raise DriverError(f"the admin API refused a test account: {created.error} {created.message_en}")
        self.journal.created(login_id)
        return account

    def _create(self, login_id: str, password: str) -> Outcome:
        body = {"login_id": login_id, "password": password}
        return call(self.client, "POST", "admin/users", body, self.headers)

    def _delete(self, login_id: str) -> bool:
        """Removed, or not there (a 404): either way no longer left behind."""
        removed = call(self.client, "DELETE", f"admin/users/{login_id}", None, self.headers)
        return removed.ok or removed.data.get("status") == 404

    def helpdesk_code(self, login_id: str) -> Outcome:
        if self.helpdesk is not None and self.helpdesk.issue is not None:
            return self.helpdesk.helpdesk_code(login_id)
        return call(self.client, "POST", f"admin/helpdesk/{login_id}/code", None, self.headers)

    def helpdesk_confirm(self, login_id: str) -> Outcome:
        """Link mode's center confirms the pending reset (``helpdeskConfirmReset``, §19.5)."""
        if self.helpdesk is not None and self.helpdesk.confirm is not None:
            return self.helpdesk.helpdesk_confirm(login_id)
        return call(self.client, "POST", f"admin/helpdesk/{login_id}/confirm", None, self.headers)

    def preflight(self) -> None:
        """The token works: an account is created and removed again, as every check will; then
        the accounts a killed earlier run left behind are removed."""
        probe = "nshpreflight" + secrets.token_hex(4)
        created = self._create(probe, secrets.token_urlsafe(18))
        if created.data.get("status") in (401, 403):
            raise ConfigError(
                "admin.token_env", f"the portal's admin API refused the token: {created.message_en}"
            )
        if not created.ok:
            raise DriverError(f"the admin API refused a test account: {created.error} {created.message_en}")
        if not self._delete(probe):
            raise DriverError(f"the admin API did not remove {probe}")
        self.journal.sweep(self._delete)
        if self.helpdesk is not None:
            self.helpdesk.preflight()

    def close(self) -> None:
        """The run has ended: delete every account it created, a few at once (one at a time,
        400 accounts held the run's end up for half a second, each delete a commit of its own on
        the portal), and strike them from the journal in one write. A run killed meanwhile
        leaves them all in it: the next run's sweep deletes them, and one already gone is a 404."""
        left = self.journal.open_accounts()
        with ThreadPoolExecutor(max_workers=DELETE_CONCURRENCY) as pool:
            removed = [
                login_id for login_id, gone in zip(left, pool.map(self._delete, left), strict=True) if gone
            ]
        self.journal.deleted(*removed)


class HttpConnection:
    """The session-wide link: one HTTP client, the mailbox and the clock, shared by all checks.

    The operator (admin API), the test clock and the mailbox are the same whatever the driver,
    so another driver reuses this connection by giving ``driver_factory`` (called with the
    connection, once per new browser); a subclass may measure real time elsewhere than the
    API's ``noop`` by overriding :meth:`_real_clock` (a portal with pages only has no API).
    """

    def __init__(
        self,
        config: PortalConfig,
        profile: Profile,
        driver_factory: Callable[[HttpConnection], Driver] | None = None,
    ) -> None:
        assert config.base_url is not None
        self.config, self.profile = config, profile
        self.driver_factory: Callable[[HttpConnection], Driver] = driver_factory or (
            lambda c: JsonDriver(c.client)
        )
        self.client = httpx.Client(
            base_url=config.base_url.rstrip("/") + API_PREFIX,
            timeout=TIMEOUT_SECONDS,
            headers=self.lane_headers(),
        )
        admin = self._admin_headers()
        self.clock: TestClock | RealClock = (
            TestClock(self.client, admin) if config.clock == "test-clock" else self._real_clock()
        )
        self.mailbox = mailbox_for(config, self.clock.now)
        helpdesk = command_helpdesk(
            config.operator_command, config.operator_confirm_command, profile.confirmation_code_digits
        )
        self.pool: AccountPool | None = None
        self.operator: Operator
        if config.provision == "admin-api":
            self.operator = AdminApiOperator(self.client, admin, config.address_domain, helpdesk)
        else:
            self.pool = pool_for(config, self._pool_parts(helpdesk))
            self.operator = self.pool.lease_for_check(helpdesk)  # the pre-flight's; each check has its own

    def lane_headers(self) -> dict[str, str]:
        """This worker's test-clock lane on every request (spec/protocol.md §17, distributed.py)."""
        return {LANE_HEADER: self.config.clock_lane} if self.config.clock_lane else {}

    def _test_clock_answers(self) -> bool:
        """The extension's read without any credentials, as anyone on the network would try it."""
        try:
            return self.client.get("test-clock").status_code == 200
        except httpx.HTTPError as exc:
            raise DriverError(f"GET test-clock: {exc}") from None

    def _pool_parts(self, helpdesk: CommandHelpdesk | None) -> Parts:
        """What the pool needs to put an account back: plain browsers (outside any check's
        evidence), the mailbox with the run's timeouts, the clock, the profile, the helpdesk."""
        mailbox = RecordingMailbox(
            self.mailbox, Transcript(), timeout_seconds=self.config.mail_timeout_seconds
        )
        return Parts(lambda: self.driver_factory(self), mailbox, self.clock, self.profile, helpdesk)

    def _real_clock(self) -> RealClock:
        """Real time, from the ``Date`` header of the API's ``noop``."""
        return RealClock(self.client)

    def _admin_headers(self) -> dict[str, str]:
        if self.config.provision != "admin-api" and self.config.clock != "test-clock":
            return {}
        return {
            "Authorization": f"Bearer {self.config.secret(self.config.admin_token_env, 'admin.token_env')}"
        }

    @property
    def margin_seconds(self) -> float:
        """Away from every time boundary by at least the clock's uncertainty and a round trip."""
        uncertainty = self.clock.uncertainty if isinstance(self.clock, RealClock) else 0.0
        return 2.0 + 2 * uncertainty

    def target(self) -> Target:
        pool = self.pool
        return Target(
            profile=self.profile,
            operator=pool.lease_for_check(pool.parts.helpdesk) if pool else self.operator,
            note_address=pool.note_address if pool else None,
            test_clock_answers=self._test_clock_answers,
            mailbox=self.mailbox,
            clock=self.clock,
            new_driver=lambda: self.driver_factory(self),
            margin_seconds=self.margin_seconds,
            mail_timeout_seconds=self.config.mail_timeout_seconds,
        )

    def close(self) -> None:
        close_operator = getattr(self.operator, "close", None)
        try:
            if callable(close_operator):
                close_operator()  # the accounts the run created go
        finally:
            self.mailbox.close()
            self.client.close()


def connect(config: PortalConfig, profile: Profile) -> HttpConnection:
    return HttpConnection(config, profile)
