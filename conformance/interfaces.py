"""The three interfaces every check talks through: a driver, a mailbox and a clock.

The data's way is manual → feature → steps → **driver** → portal → mail → **mailbox** → verdict.
Steps and probes import only this module and :mod:`~ninsho.conformance.errors` (never the reference), which is why the same checks
run against the embedded reference and against any deployed portal.

A driver is one *browser*: it keeps its own session and its own "Trust this browser" token
across logins, as cookies would. ``fresh()`` gives a new browser for the same portal.
A driver never raises for a refusal by the portal: it returns an :class:`Outcome` with
``ok=False`` and the portal's own error, so a check can assert on refusals as plainly as on
successes. It raises :class:`DriverError` only when the harness or the portal is broken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

# A driver raises these; they live in the one error tree and are named here for drivers' sake.
from ninsho.conformance.errors import DriverError, MailTimeout, NotSupported, ServerError

__all__ = [
    "Account",
    "Clock",
    "Driver",
    "DriverError",
    "Enroller",
    "Exchange",
    "HelpdeskConfirmer",
    "LinkFollower",
    "Mail",
    "MailTimeout",
    "Mailbox",
    "NotSupported",
    "Operator",
    "Outcome",
    "Provisioning",
    "ResetScreenWatcher",
    "ServerError",
    "SessionCopier",
]


@dataclass(frozen=True)
class Account:
    login_id: str
    password: str
    address: str | None = None  # an inbox the mailbox can read, for flows that need one

    def __repr__(self) -> str:  # never print a password in a report
        return f"Account(login_id={self.login_id!r}, address={self.address!r})"


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, for the evidence transcript (secrets redacted)."""

    action: str
    request: str
    response: str


@dataclass
class Outcome:
    ok: bool
    stage: str | None = None  # first_factor | setup | authenticated | reset
    # what the refusal is, in the binding's vocabulary (conformance/refusals.py), e.g.
    # code_rejected; the name the portal itself gave, where its binding has names, is
    # data["error_name"]
    error: str | None = None
    requirement: str | None = None  # the requirement the portal says it enforced
    message_ja: str = ""
    message_en: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    evidence: list[Exchange] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return not self.ok


@dataclass(frozen=True)
class Provisioning:
    uri: str
    manual_key: str


@runtime_checkable
class Driver(Protocol):
    """The user actions of the manuals, in their order."""

    name: str

    def fresh(self) -> Driver: ...

    # first factor
    def login(self, account: Account) -> Outcome: ...
    def login_for_setup(self, account: Account) -> Outcome: ...

    # second factor
    def request_email_code(self) -> Outcome: ...
    def submit_app_code(self, code: str, *, trust_browser: bool = False) -> Outcome: ...
    def submit_email_code(self, code: str, *, trust_browser: bool = False) -> Outcome: ...

    # settings: Mail tab and App tab
    def settings(self) -> Outcome: ...
    def register_email(self, address: str) -> Outcome: ...
    def confirm_email(self, code: str) -> Outcome: ...
    def start_app_registration(self) -> Provisioning: ...
    def register_app(self, code: str) -> Outcome: ...

    # reset
    def initialize(self) -> Outcome: ...
    def resend(self) -> Outcome: ...
    def confirm_reset(self, code: str) -> Outcome: ...

    def logout(self) -> Outcome: ...


@runtime_checkable
class Operator(Protocol):
    """What the harness needs from the portal's operators: test accounts and the helpdesk."""

    def new_account(self) -> Account:
        """A fresh account with no factor registered, unused by any other check."""
        ...

    def helpdesk_code(self, login_id: str) -> Outcome:
        """The ICT Support Center issues a confirmation code (``data["code"]``)."""
        ...


class Enroller(Protocol):
    """Optional, for portals whose operators enrol factors (an OTP server such as privacyIDEA
    has no self-service set-up): an Operator that also has these methods is used by the probes
    instead of the manuals' set-up screens, so the TOTP and mailed-code checks still run."""

    def enrol_app(self, account: Account) -> str:
        """Register an authenticator for ``account``; return its otpauth:// URI."""
        ...

    def enrol_email(self, account: Account) -> None:
        """Register ``account.address`` as the account's address for mailed codes."""
        ...


@runtime_checkable
class LinkFollower(Protocol):
    """Optional, for portals that reset by link (``reset.mode = "link"``, protocol.md §19): a
    Driver that also has this method can follow the URL of the reset mail. Without it the link
    checks are NOT_APPLICABLE for the driver."""

    def open_reset_link(self, url: str, account: Account) -> Outcome:
        """Open ``url`` as it is, and log in there with ``account``'s ID and password; a success
        leaves this browser in the session the link opened (``stage`` setup)."""
        ...


@runtime_checkable
class ResetScreenWatcher(Protocol):
    """Optional, for portals that reset by link (protocol.md §19.5): a Driver that also has this
    method can watch the reset screen it left open, after "初期化" of an account with no address,
    as the page itself polls. Without it the check of that screen is NOT_APPLICABLE for the
    driver."""

    def watch_reset_screen(self, timeout_seconds: float) -> Outcome:
        """``ok`` with ``stage`` setup once the screen left open has gone on by itself to the
        set-up (the QR code), leaving this browser there; refused when it has not within
        ``timeout_seconds`` (the portal's refusal, or ``error="still_waiting"``)."""
        ...


@runtime_checkable
class HelpdeskConfirmer(Protocol):
    """Optional, for portals that reset by link (protocol.md §19.5): an Operator that also has
    this method acts as the ICT Support Center, who confirms the pending reset of an account
    with no address once it has verified the caller. Without it the checks of that path are
    NOT_APPLICABLE, with the reason."""

    def helpdesk_confirm(self, login_id: str) -> Outcome:
        """Confirm ``login_id``'s pending reset; ``ok`` when the portal did, else its refusal."""
        ...


@runtime_checkable
class SessionCopier(Protocol):
    """Optional: a Driver that can copy the session it holds, as someone who copies a browser's
    session cookie (or a client's API token) does. The session checks need it to see whether a
    copy taken at one step still works after the next one [SESSION_TOKEN_RENEWED]; without it
    they are NOT_APPLICABLE for the driver (a driver that has the method but cannot copy for
    this portal raises NotSupported, with the reason)."""

    def copy_session(self) -> Driver:
        """A new browser that holds what this one holds of its session now (its cookies, or its
        token), and nothing it learns later: the copy acts on its own from then on."""
        ...


_ID_CHARACTERS = r"A-Za-z0-9_\-"  # beside a login ID, these make it part of another ID


def names(text: str, word: str) -> bool:
    """Whether ``text`` (a mail's body) names ``word`` (a login ID) as a word of its own: a
    notice for user10 does not name user1, nor one for nsh-taro taro. "" is named by any text."""
    pattern = rf"(?<![{_ID_CHARACTERS}]){re.escape(word)}(?![{_ID_CHARACTERS}])"
    return not word or re.search(pattern, text) is not None


@dataclass(frozen=True)
class Mail:
    to: str
    sender: str
    subject: str
    body: str
    received_at: float
    raw: bytes = field(default=b"", repr=False, compare=False)  # as received; b"": not kept

    def code(self, digits: int) -> str | None:
        """The first run of exactly ``digits`` digits in the body [MAIL_BODY_CODE]."""
        found = re.search(rf"(?<!\d)\d{{{digits}}}(?!\d)", self.body)
        return found.group(0) if found else None

    def names(self, word: str) -> bool:
        """Whether the body names ``word`` as a word of its own (:func:`names`)."""
        return names(self.body, word)


@runtime_checkable
class Mailbox(Protocol):
    """Mail as the portal sent it. ``quiet_seconds`` (optional attribute, default 2 s) is how
    long a check waits before it concludes that a mail was *not* sent: as short as the portal's
    mail path allows (0 for the embedded outbox, a fraction of a second for a portal that relays
    before it answers), since refused addresses are checked by the dozen."""

    def wait_for(self, to: str, *, subject: str | None = None, since: float, timeout: float) -> Mail:
        """The newest mail to ``to`` received at or after ``since``, matched by recipient and
        time only: ``subject`` is the one the caller expects, for the judging that follows
        (conformance/mail_contract.py), never a filter, so a wrong subject is a FAIL and not a
        timeout.

        A mailbox may also have ``wait_for_containing(to, text, *, subject, since, timeout)``:
        the same, among the mails whose body names ``text`` as a word of its own
        (:func:`names`: user1 is not named by a notice for user10). It is optional (the harness
        asks :func:`ninsho.conformance.actions.read_mail_naming`, which falls back on ``wait_for``)
        and serves the one address that mail for many accounts goes to, the ICT Support
        Center's: checks running at once each find the notice that names their own account."""
        ...


@runtime_checkable
class Clock(Protocol):
    """The portal's time as the harness knows it."""

    kind: str  # "virtual" | "test-clock" | "real"

    def now(self) -> float: ...

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on the portal: instantly (virtual, test-clock) or by waiting (real)."""
        ...
