"""The embedded outbox: where mail goes when no SMTP relay is configured.

The demo and the in-process mailbox of the harness read it. It keeps the core's
:class:`OutgoingMail` as it is, so what a test reads is exactly what the core decided to send.
"""

from __future__ import annotations

import threading

from ninsho.reference.core.ports import Clock, OutgoingMail


class Outbox:
    def __init__(self, limit: int = 10_000, clock: Clock | None = None) -> None:
        self._sent: list[tuple[OutgoingMail, float]] = []
        self._lock = threading.Lock()
        self._limit = limit
        self._clock = clock

    def send(self, mail: OutgoingMail) -> None:
        """Keep the mail, dated by the portal's clock (0.0 when the outbox was given none)."""
        with self._lock:
            self._sent.append((mail, self._clock.now() if self._clock else 0.0))
            del self._sent[: -self._limit]

    @property
    def messages(self) -> list[OutgoingMail]:
        with self._lock:
            return [mail for mail, _ in self._sent]

    @property
    def dated(self) -> list[tuple[OutgoingMail, float]]:
        """Each mail with the portal time it was sent at."""
        with self._lock:
            return list(self._sent)

    def latest(self, to: str) -> OutgoingMail | None:
        """The newest mail to ``to`` (compared case-insensitively in the domain)."""
        wanted = _fold(to)
        for mail in reversed(self.messages):
            if _fold(mail.to) == wanted:
                return mail
        return None


def _fold(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"
