"""One exception tree for the whole portal.

Every error names the requirement it enforces and carries a status hint, in the manner of
h11's ``RemoteProtocolError(error_status_hint=...)``: the core decides *what* went wrong, and each
binding (HTTP, CLI, the conformance drivers) maps it in one place. Messages are bilingual because
users see them; ``field`` names the input at fault when there is one.

Each class names its wire code (the JSON binding's ``error``) itself, in ``wire_code``: the code
is part of the binding's contract (spec/openapi.yaml lists every one), so renaming a class must
never change it. A subclass that does not name its own code is refused when it is defined.
"""

from __future__ import annotations

from typing import Any, ClassVar


class NinshoError(Exception):
    """The root of every error the reference raises on purpose; never raised itself."""

    wire_code: ClassVar[str]  # the binding's ``error``, set by every subclass itself
    status_hint: int = 400
    requirement: str = "INPUT_ERRORS_PRECISE"

    def __init__(
        self,
        message_en: str,
        message_ja: str = "",
        *,
        requirement: str | None = None,
        field: str | None = None,
        status_hint: int | None = None,
    ) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_ja = message_ja or message_en
        if requirement is not None:
            self.requirement = requirement
        if status_hint is not None:
            self.status_hint = status_hint
        self.field = field

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """An inherited code would give two meanings one name on the wire: each class names its own."""
        super().__init_subclass__(**kwargs)
        if "wire_code" not in cls.__dict__:
            raise TypeError(f"{cls.__qualname__} must name its own wire_code (the binding's error name)")

    @property
    def code(self) -> str:
        """The wire code, e.g. ``code_rejected`` (kept as ``code`` for the drivers that read it)."""
        return self.wire_code

    def as_dict(self) -> dict[str, object]:
        return {
            "error": self.code,
            "requirement": self.requirement,
            "field": self.field,
            "message": {"ja": self.message_ja, "en": self.message_en},
        }


class InvalidInput(NinshoError):
    """Syntactically bad input (a login ID, a code with letters, an oversized value)."""

    wire_code = "invalid_input"


class InvalidAddress(InvalidInput):
    wire_code = "invalid_address"
    requirement = "EMAIL_ADDRESS_SYNTAX"


class BlockedAddress(NinshoError):
    wire_code = "blocked_address"
    requirement = "EMAIL_BLOCKED_DOMAIN"
    status_hint = 422


class AuthenticationFailed(NinshoError):
    """Wrong ID or password: the same error for both, so IDs cannot be enumerated."""

    wire_code = "authentication_failed"
    requirement = "FIRST_FACTOR_PASSWORD"
    status_hint = 401


class CodeRejected(NinshoError):
    """A one-time password or confirmation code was wrong, used, expired or replayed.

    One class on purpose: telling an attacker *why* a code failed helps them. ``reason`` keeps
    the detail for logs and for the conformance harness's evidence.
    """

    wire_code = "code_rejected"
    status_hint = 401

    def __init__(
        self, reason: str, *, requirement: str, field: str = "code", message: tuple[str, str] | None = None
    ) -> None:
        en, ja = message or (
            "The one-time password is not valid. Please check it and try again.",
            "ワンタイムパスワードが正しくありません。確認して再度入力してください。",
        )
        super().__init__(en, ja, requirement=requirement, field=field)
        self.reason = reason


class AccountLocked(NinshoError):
    wire_code = "account_locked"
    requirement = "LOCKOUT_THRESHOLD"
    status_hint = 429


class RateLimited(NinshoError):
    """Too many wrong passwords for a login ID from this client, or too many mails to one
    address, for now [PASSWORD_THROTTLE] [MAIL_RATE_LIMIT]. ``retry_after``: the seconds left,
    which the HTTP edge sends as ``Retry-After``."""

    wire_code = "rate_limited"
    status_hint = 429

    def __init__(self, message_en: str, message_ja: str, *, requirement: str, retry_after: int) -> None:
        super().__init__(message_en, message_ja, requirement=requirement)
        self.retry_after = retry_after


class NotPermitted(NinshoError):
    """The session's stage does not allow the action (e.g. settings before the second factor)."""

    wire_code = "not_permitted"
    requirement = "SECOND_FACTOR_REQUIRED"
    status_hint = 403


class SessionExpired(NinshoError):
    wire_code = "session_expired"
    requirement = "SESSION_EXPIRY"
    status_hint = 401


class NothingPending(NinshoError):
    """Confirm or resend with no code pending for that purpose."""

    wire_code = "nothing_pending"
    status_hint = 409


class Conflict(NinshoError):
    wire_code = "conflict"
    status_hint = 409


class UnknownAccount(NinshoError):
    """Only for operator paths (CLI, helpdesk): users get AuthenticationFailed instead."""

    wire_code = "unknown_account"
    status_hint = 404


class MailNotSent(NinshoError):
    """The relay refused or was unreachable. The code stays issued, so "Resend" works later."""

    wire_code = "mail_not_sent"
    requirement = "RESET_CONFIRMATION_MAIL"
    status_hint = 503
