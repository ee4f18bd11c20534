"""The core's four ports: a clock, a random source, a store and a mailer.

The core calls these and nothing else that touches the world, so a test can drive the whole
portal with a fixed clock, a seeded random source, an in-memory store and a list as outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .otp import RandomSource
from .state import AccountState, Guard

T = TypeVar("T")

__all__ = ["Clock", "Mailer", "OutgoingMail", "RandomSource", "Store"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...


class Store(Protocol):
    """Durable account records, changed one atomic transaction at a time."""

    def create(self, state: AccountState) -> None:
        """Add a new account; raise :class:`~.errors.Conflict` if the login ID exists."""
        ...

    def delete(self, login_id: str) -> bool: ...

    def login_ids(self) -> list[str]: ...

    def load(self, login_id: str) -> AccountState | None:
        """A snapshot: changing it changes nothing stored."""
        ...

    def transact(self, login_id: str, change: Callable[[AccountState], T]) -> T:
        """Run ``change`` on the current record, atomically with respect to every other
        transaction on the same account. Its mutations are committed if it returns, and
        discarded if it raises. Raises :class:`~.errors.UnknownAccount` for an unknown ID.
        """
        ...

    def guard(self, key: str, now: float, change: Callable[[Guard], T]) -> T:
        """Run ``change`` on the guard ``key`` (a login ID's wrong passwords, an address's mails:
        :class:`~.state.Guard`), atomically with respect to every other change of that guard,
        starting from an empty one when there is none. Committed if it returns, discarded if it
        raises. A guard left with no lane is dropped, and so may be any whose ``expires_at`` is
        before ``now``. A guard is not an account: it exists for a login ID that has none.
        """
        ...


@dataclass(frozen=True)
class OutgoingMail:
    """A mail as the core decides it; the SMTP edge encodes it (RFC 2047, UTF-8)."""

    to: str
    sender: str
    subject: str
    body: str
    purpose: str


class Mailer(Protocol):
    def send(self, mail: OutgoingMail) -> None:
        """Deliver or raise :class:`~.errors.MailNotSent`."""
        ...
