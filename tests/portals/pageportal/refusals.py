"""The refusal classes of protocol.md §16.3; each skin words them its own way."""

from __future__ import annotations

from dataclasses import dataclass

STATUS = {
    "invalid_input": 400,
    "invalid_address": 400,
    "bad_encoding": 400,
    "bad_credentials": 401,
    "code_refused": 401,
    "session_expired": 401,
    "stage": 403,
    "csrf": 403,
    "not_found": 404,
    "method": 405,
    "nothing_pending": 409,
    "too_large": 413,
    "media_type": 415,
    "blocked": 422,
    "locked": 429,
    "throttled": 429,
    "mail_limited": 429,
    "internal": 500,
    "mail_failed": 503,
}


@dataclass
class Refusal(Exception):
    """A refused request: its class (a key of STATUS), the requirement and the field at fault."""

    kind: str
    requirement: str = "INPUT_ERRORS_PRECISE"
    field: str | None = None

    @property
    def status(self) -> int:
        """The HTTP status hint of the class."""
        return STATUS[self.kind]

    def __str__(self) -> str:
        return f"{self.kind} ({self.requirement}, field={self.field})"
