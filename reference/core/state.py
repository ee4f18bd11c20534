"""The account state: everything the portal remembers about one login ID.

One record per account, changed only inside ``Store.transact`` so that each user action is one
atomic step: "check this code and mark it used" can never interleave with another submission of
the same code. The record round-trips through plain JSON types, which is how the SQLite store
keeps it. The account's sessions are not in the record (:class:`Sessions`): they come and go
with every login, and a record that held them grew with each one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


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


class SessionRows(Protocol):
    """How a store reads an account's sessions for :class:`Sessions`: one, or all of them."""

    def one(self, key: str) -> Session | None: ...

    def every(self) -> dict[str, Session]: ...


class Sessions(MutableMapping[str, Session]):
    """An account's live sessions, by token digest: kept beside the account's record, not in it.

    Why apart: the record is read and written whole by every action, and a record holding the
    sessions grew with every login (1,000 logins: 155 KB, and each request on the account took
    14 ms instead of 3 ms). A request needs only its own session, so a store hands the core this
    mapping, which reads a session from ``rows`` when it is first asked for, and all of them only
    when they are walked (a login dropping the expired ones, a reset ending them). What the
    transaction changed comes back from :meth:`changes`, for the store to write and no more.
    Without ``rows`` it holds just what it is given (the in-memory store, the tests).
    """

    def __init__(self, known: dict[str, Session] | None = None, rows: SessionRows | None = None) -> None:
        self._known: dict[str, Session | None] = dict(known or {})  # None: looked up, not there
        self._rows = rows
        self._complete = rows is None
        self._before = {k: _row(s) for k, s in self._known.items() if s is not None}

    def _look(self, key: str) -> Session | None:
        if key not in self._known and not self._complete:
            assert self._rows is not None
            found = self._rows.one(key)
            self._known[key] = found
            if found is not None:
                self._before[key] = _row(found)
        return self._known.get(key)

    def _load_all(self) -> None:
        if self._complete:
            return
        assert self._rows is not None
        for key, s in self._rows.every().items():
            if key not in self._known:  # what this transaction did already stands
                self._known[key] = s
                self._before[key] = _row(s)
        self._complete = True

    def __getitem__(self, key: str) -> Session:
        found = self._look(key)
        if found is None:
            raise KeyError(key)
        return found

    def __setitem__(self, key: str, value: Session) -> None:
        self._known[key] = value

    def __delitem__(self, key: str) -> None:
        if self._look(key) is None:
            raise KeyError(key)
        self._known[key] = None

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return iter([k for k, s in self._known.items() if s is not None])

    def __len__(self) -> int:
        self._load_all()
        return sum(1 for s in self._known.values() if s is not None)

    def keep(self, wanted: Callable[[Session], bool]) -> None:
        """End every session for which ``wanted`` is false."""
        for key, s in list(self.items()):
            if not wanted(s):
                del self[key]

    def end(self, s: Session) -> None:
        """End ``s``, a session this transaction has read, without reading the others."""
        for key, known in self._known.items():
            if known is s:
                self._known[key] = None
                return
        raise KeyError("not a session of this transaction")

    def changes(self) -> tuple[dict[str, Session], list[str]]:
        """What to write back: the sessions new or changed, and the keys of those ended."""
        written = {k: s for k, s in self._known.items() if s is not None and self._before.get(k) != _row(s)}
        ended = [k for k, s in self._known.items() if s is None and k in self._before]
        return written, ended


def _row(s: Session) -> tuple[str, float, float]:
    return (s.stage, s.created_at, s.last_seen)


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
    trusted_browsers: dict[str, TrustedBrowser] = field(default_factory=dict)  # by token digest
    # Beside the record, not in it: to_json leaves them out, and each store keeps them apart.
    sessions: Sessions = field(default_factory=Sessions, compare=False, repr=False)

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
            "trusted_browsers": {k: {"expires_at": t.expires_at} for k, t in self.trusted_browsers.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], sessions: Sessions | None = None) -> AccountState:
        """The inverse of :meth:`to_json` (also for its JSON text read back by the stores), with
        the account's ``sessions`` as its store keeps them. A record from before the sessions
        had their own place may still hold some under "sessions": they are taken in."""
        if sessions is None:
            sessions = Sessions({k: session_from_json(s) for k, s in data.get("sessions", {}).items()})
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
            trusted_browsers={k: TrustedBrowser(**t) for k, t in data["trusted_browsers"].items()},
            sessions=sessions,
        )


def session_to_json(s: Session) -> dict[str, Any]:
    return {"stage": s.stage, "created_at": s.created_at, "last_seen": s.last_seen}


def session_from_json(data: dict[str, Any]) -> Session:
    return Session(Stage(data["stage"]), float(data["created_at"]), float(data["last_seen"]))
