"""The account state: everything the portal remembers about one login ID.

One record per account, changed only inside ``Store.transact`` so that each user action is one
atomic step: "check this code and mark it used" can never interleave with another submission of
the same code. The record round-trips through plain JSON types, which is how the SQLite store
keeps it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    """What a session may do (spec/protocol.md "Sessions")."""

    FIRST_FACTOR = "first_factor"  # password accepted, second factor awaited
    SETUP = "setup"  # no factor registered yet (or just reset): only set-up actions
    AUTHENTICATED = "authenticated"
    RESET = "reset"  # came in through "Click here For Initial Setup or Setup Again"


class Purpose(StrEnum):
    """Why a code was mailed; each purpose has its own live code."""

    LOGIN = "login"  # second factor by email
    REGISTER_EMAIL = "register_email"  # proves the new address before it is registered
    RESET = "reset"  # the confirmation code for "Initialize"


@dataclass
class AppRegistration:
    app_id: str
    secret_hex: str
    registered_at: float
    last_step: int | None = None  # [TOTP_REPLAY] the newest step ever accepted


@dataclass
class IssuedCode:
    purpose: Purpose
    digest: str  # [CODE_STORED_HASHED] never the code itself
    issued_at: float
    expires_at: float
    address: str | None = None  # where it was mailed (None: read out by the helpdesk)
    used: bool = False


@dataclass
class Session:
    stage: Stage
    created_at: float
    last_seen: float


@dataclass
class TrustedBrowser:
    expires_at: float


@dataclass
class AccountState:
    login_id: str
    password_hash: str
    addresses: list[str] = field(default_factory=list)
    apps: list[AppRegistration] = field(default_factory=list)
    codes: list[IssuedCode] = field(default_factory=list)
    pending_app_secret_hex: str | None = None  # scanned, not yet "Register"ed
    failures: int = 0
    locked_until: float | None = None
    reset_pending: bool = False
    sessions: dict[str, Session] = field(default_factory=dict)  # by token digest
    trusted_browsers: dict[str, TrustedBrowser] = field(default_factory=dict)  # by token digest

    @property
    def address(self) -> str | None:
        return self.addresses[-1] if self.addresses else None

    @property
    def has_factor(self) -> bool:
        return bool(self.addresses or self.apps)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountState:
        return cls(
            login_id=data["login_id"],
            password_hash=data["password_hash"],
            addresses=list(data["addresses"]),
            apps=[AppRegistration(**a) for a in data["apps"]],
            codes=[IssuedCode(**{**c, "purpose": Purpose(c["purpose"])}) for c in data["codes"]],
            pending_app_secret_hex=data["pending_app_secret_hex"],
            failures=data["failures"],
            locked_until=data["locked_until"],
            reset_pending=data["reset_pending"],
            sessions={k: Session(**{**s, "stage": Stage(s["stage"])}) for k, s in data["sessions"].items()},
            trusted_browsers={k: TrustedBrowser(**t) for k, t in data["trusted_browsers"].items()},
        )
