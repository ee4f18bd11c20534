"""The embedded outbox: where mail goes when no SMTP relay is configured.

The demo and the in-process mailbox of the harness read it. It keeps the core's
:class:`OutgoingMail` as it is, so what a test reads is exactly what the core decided to send.
"""

from __future__ import annotations

import threading

from reference.core.ports import OutgoingMail


class Outbox:
    def __init__(self, limit: int = 10_000) -> None:
        self._messages: list[OutgoingMail] = []
        self._lock = threading.Lock()
        self._limit = limit

    def send(self, mail: OutgoingMail) -> None:
        with self._lock:
            self._messages.append(mail)
            del self._messages[: -self._limit]

    @property
    def messages(self) -> list[OutgoingMail]:
        with self._lock:
            return list(self._messages)

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
