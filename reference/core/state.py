"""The account state: everything the portal remembers about one login ID.

One record per account, changed only inside ``Store.transact`` so that each user action is one
atomic step: "check this code and mark it used" can never interleave with another submission of
the same code. The record round-trips through plain JSON types, which is how the SQLite store
keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
class Guard:
    """What a limit remembers under one key: the times of recent events, by lane.

    The password throttle keeps one per login ID (its lanes are the clients, and the account
    as a whole), the mail limit one per address (protocol.md §3.1, §12.4). Guards are kept
    apart from the accounts, by key, because a limit must hold for a login ID that does not
    exist as for one that does, so that it tells nobody which IDs exist, and for an address no
    account has yet. ``expires_at``: from then on nothing it remembers counts, so a store may
    drop it.
    """

    lanes: dict[str, list[float]] = field(default_factory=dict)
    expires_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"lanes": {k: list(v) for k, v in self.lanes.items()}, "expires_at": self.expires_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Guard:
        return cls({k: [float(t) for t in v] for k, v in data["lanes"].items()}, float(data["expires_at"]))


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
        """The record as plain JSON types: equal to ``dataclasses.asdict(self)``, written out.

        Written by hand because ``asdict`` deep-copies field by field through ``copy.deepcopy``,
        and this runs once per transaction (the store writes the record back): it was about 11 %
        of the server's CPU per TOTP verification over HTTP (benchmarks/README.md, item 3), more
        than SQLite's statements. Like ``asdict``, it copies every list and dict, so the result
        shares nothing mutable with the state (the in-memory store keeps it as the record), and
        keeps the enum members as they are (``Stage`` and ``Purpose`` are ``str``). The tests
        hold it equal to ``asdict`` for generated states, so a new field cannot be forgotten.
        """
        return {
            "login_id": self.login_id,
            "password_hash": self.password_hash,
            "addresses": list(self.addresses),
            "apps": [
                {
                    "app_id": a.app_id,
                    "secret_hex": a.secret_hex,
                    "registered_at": a.registered_at,
                    "last_step": a.last_step,
                }
                for a in self.apps
            ],
            "codes": [
                {
                    "purpose": c.purpose,
                    "digest": c.digest,
                    "issued_at": c.issued_at,
                    "expires_at": c.expires_at,
                    "address": c.address,
                    "used": c.used,
                }
                for c in self.codes
            ],
            "pending_app_secret_hex": self.pending_app_secret_hex,
            "failures": self.failures,
            "locked_until": self.locked_until,
            "reset_pending": self.reset_pending,
            "sessions": {
                k: {"stage": s.stage, "created_at": s.created_at, "last_seen": s.last_seen}
                for k, s in self.sessions.items()
            },
            "trusted_browsers": {k: {"expires_at": t.expires_at} for k, t in self.trusted_browsers.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountState:
        """The inverse of :meth:`to_json` (also for its JSON text read back by the stores)."""
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
