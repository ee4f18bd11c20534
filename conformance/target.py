"""The portal under test as the checks see it: browsers, accounts, mail, time and the profile.

One :class:`Target` per check. For the embedded reference it is a fresh portal each time, so
checks never share state; for a deployed portal the session-wide connection is shared and each
check takes fresh accounts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ninsho.conformance.actions import read_mail, stray_mail
from ninsho.conformance.interfaces import Account, Clock, Driver, Mail, Mailbox, Operator
from ninsho.conformance.transcript import (
    RecordingClock,
    RecordingDriver,
    RecordingMailbox,
    Transcript,
    Watcher,
)
from ninsho.spec.profile import Profile


@dataclass
class Target:
    profile: Profile
    operator: Operator
    mailbox: Mailbox
    clock: Clock
    new_driver: Callable[[], Driver]
    margin_seconds: float = 1.0  # how far checks keep from a time boundary
    mail_timeout_seconds: float = 30.0
    transcript: Transcript = field(default_factory=Transcript)
    measured: dict[str, object] = field(default_factory=dict)
    # A pool's note of the addresses checks register, so it can find a reset code later.
    note_address: Callable[[str, str], None] | None = None
    # Whether the portal answers the test-clock extension's read, for a connection that can look
    # (None: it cannot, e.g. in process, where there is no HTTP extension to find).
    test_clock_answers: Callable[[], bool] | None = None
    # What this check's waits are for ("email code lifetime"), for the evidence and the terminal's
    # countdown; set from the check's realtime.waits(what=...) declaration, else its title.
    waits_for: str = ""
    _browsers: int = 0

    def __post_init__(self) -> None:
        """The run's clock is shared by every target; each target sees it through a clock of its
        own, which writes each move of time into this target's transcript and stamps its lines."""
        clock = self.clock
        if not isinstance(clock, RecordingClock):
            clock = RecordingClock(clock, self.transcript, lambda: self.waits_for)
        self.clock = clock
        self.transcript.attach(clock)

    def browser(self) -> Driver:
        """A new browser: its own session and its own "Trust this browser" cookie."""
        self._browsers += 1
        watch = self._address_watcher if self.note_address is not None else None
        return RecordingDriver(self.new_driver(), self.transcript, f"browser {self._browsers}", watch)

    def _address_watcher(self) -> Watcher:
        """One browser's watcher: which account it logged in as, and what address it registered."""
        logged_in: list[str] = []

        def watch(action: str, args: tuple[Any, ...], answer: Any) -> None:
            if action in ("login", "login_for_setup") and args and isinstance(args[0], Account):
                logged_in[:] = [args[0].login_id]
            elif action == "register_email" and logged_in and args and getattr(answer, "ok", False):
                assert self.note_address is not None
                self.note_address(logged_in[0], str(args[0]))

        return watch

    def close(self) -> None:
        """The check has ended: what it borrowed goes back (a pool's accounts, restored)."""
        release = getattr(self.operator, "release", None)
        if callable(release):
            release()

    def account(self) -> Account:
        account = self.operator.new_account()
        self.transcript.add(f"operator: new account {account.login_id} <{account.address}>")
        return account

    @property
    def inbox(self) -> RecordingMailbox:
        """The mailbox as checks and steps read it: into the transcript, with the run's mail
        timeout, each mail it finds judged against the contract (transcript.RecordingMailbox)."""
        return RecordingMailbox(
            self.mailbox, self.transcript, timeout_seconds=self.mail_timeout_seconds, profile=self.profile
        )

    def mail(self, to: str, subject: str, since: float) -> Mail:
        return read_mail(self.inbox, to, subject, since)

    def no_mail(self, to: str, subject: str, since: float) -> bool:
        """True when no such mail arrives within a short quiet period: for checks that a mail is
        *not* sent, which would otherwise wait the whole mail timeout on every correct portal."""
        return stray_mail(self.inbox, to, subject, since) is None

    def measure(self, key: str, value: object) -> None:
        """A measured value for the report, e.g. ``measure("accepted_offsets", "-1…+1")``."""
        self.measured[key] = value
        self.transcript.add(f"measured {key} = {value}")
