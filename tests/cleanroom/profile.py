"""Profile loading (protocol.md §18): every parameter typed, sourced and checked on load.

Kept strict because a silently defaulted parameter would make the portal conform to a profile
it was not given.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# key -> expected Python type ("list" means a list of str).
PARAMETERS: dict[str, str] = {
    "totp.digits": "int",
    "totp.period_seconds": "int",
    "totp.algorithm": "str",
    "totp.window_past_steps": "int",
    "totp.window_future_steps": "int",
    "totp.secret_bytes": "int",
    "totp.issuer": "str",
    "email_otp.digits": "int",
    "email_otp.lifetime_seconds": "int",
    "email.max_addresses": "int",
    "email.blocked_domains": "list",
    "email.block_subdomains": "bool",
    "reset.mode": "str",
    "confirmation_code.digits": "int",
    "confirmation_code.lifetime_seconds": "int",
    "reset.voids_apps": "bool",
    "reset.clears_email": "bool",
    "reset.placeholder_address": "str",
    "resend.voids_previous": "bool",
    "resend.keeps_failure_count": "bool",
    "lockout.threshold": "int",
    "lockout.duration_seconds": "int",
    "password_throttle.max_failures": "int",
    "password_throttle.window_seconds": "int",
    "mail_limit.per_address": "int",
    "mail_limit.window_seconds": "int",
    "trust_browser.duration_seconds": "int",
    "session.idle_seconds": "int",
    "session.first_factor_seconds": "int",
    "session.absolute_seconds": "int",
    "mail.sender": "str",
    "mail.subject_otp": "str",
    "mail.subject_reset": "str",
    "helpdesk.hours": "str",
    "helpdesk.phone": "str",
    "helpdesk.email": "str",
}

_POSITIVE = (
    "totp.period_seconds",
    "email_otp.lifetime_seconds",
    "confirmation_code.lifetime_seconds",
    "lockout.duration_seconds",
    "password_throttle.window_seconds",
    "mail_limit.window_seconds",
    "session.idle_seconds",
    "session.first_factor_seconds",
    "session.absolute_seconds",
)
_DIGITS = ("totp.digits", "email_otp.digits", "confirmation_code.digits")
_TEXTS = ("totp.issuer", "reset.placeholder_address", "mail.sender", "mail.subject_otp")
_TEXTS2 = ("mail.subject_reset", "helpdesk.hours", "helpdesk.phone")


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the key at fault."""


@dataclass(frozen=True)
class Profile:
    """The parameter values of one profile, by their dotted names."""

    name: str
    title: str
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def replace(self, **changes: Any) -> Profile:
        """A copy with some values changed (keys use '__' for '.'), for tests."""
        values = dict(self.values)
        for key, value in changes.items():
            dotted = key.replace("__", ".")
            if dotted not in PARAMETERS:
                raise ProfileError(f"unknown parameter {dotted}")
            values[dotted] = value
        _check_constraints(values)
        return Profile(self.name, self.title, values)


def _read_params(path: Path, seen: tuple[Path, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The [profile] table and the flat parameter tables of one file, parents merged first."""
    if path in seen:
        raise ProfileError(f"profile.extends: cycle through {path.name}")
    try:
        with path.open("rb") as handle:
            doc = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    head = doc.get("profile")
    if not isinstance(head, dict):
        raise ProfileError("profile: missing [profile] table")
    merged: dict[str, Any] = {}
    parent = head.get("extends")
    if parent is not None:
        if not isinstance(parent, str) or not parent or "/" in parent or "\\" in parent:
            raise ProfileError("profile.extends: must be the name of a profile beside this one")
        _, merged = _read_params(path.parent / f"{parent}.toml", (*seen, path))
    for section, table in doc.items():
        if section == "profile":
            continue
        if not isinstance(table, dict):
            raise ProfileError(f"{section}: not a table")
        for name, entry in table.items():
            key = f"{section}.{name}"
            if key not in PARAMETERS:
                raise ProfileError(f"{key}: unknown parameter")
            if not isinstance(entry, dict) or "value" not in entry:
                raise ProfileError(f"{key}: must be a table with a value")
            extra = set(entry) - {"value", "source", "assumed", "standard"}
            if extra:
                raise ProfileError(f"{key}: unknown field {sorted(extra)[0]}")
            sourced = isinstance(entry.get("source"), str) and entry["source"].strip()
            assumed = entry.get("assumed") is True and isinstance(entry.get("standard"), str)
            if not sourced and not assumed:
                raise ProfileError(f"{key}: needs a source, or assumed = true with a standard")
            merged[key] = entry["value"]
    return head, merged


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _check_constraints(values: dict[str, Any]) -> None:
    """The load-time constraints of §18, plus what this implementation cannot serve."""
    for key, kind in PARAMETERS.items():
        if key not in values:
            raise ProfileError(f"{key}: missing parameter")
        if not _type_ok(kind, values[key]):
            raise ProfileError(f"{key}: wrong type, expected {kind}")
    for key in _DIGITS:
        if not 6 <= values[key] <= 10:
            raise ProfileError(f"{key}: must be 6 to 10")
    for key in _POSITIVE:
        if values[key] <= 0:
            raise ProfileError(f"{key}: must be > 0")
    if values["trust_browser.duration_seconds"] < 0:
        raise ProfileError("trust_browser.duration_seconds: must be >= 0")
    for key in ("totp.window_past_steps", "totp.window_future_steps"):
        if values[key] < 0:
            raise ProfileError(f"{key}: must be >= 0")
    if values["totp.secret_bytes"] < 16:
        raise ProfileError("totp.secret_bytes: must be >= 16")
    if not 1 <= values["lockout.threshold"] <= 100:
        raise ProfileError("lockout.threshold: must be 1 to 100")
    if not 1 <= values["password_throttle.max_failures"] <= 100:
        raise ProfileError("password_throttle.max_failures: must be 1 to 100")
    if not 2 <= values["mail_limit.per_address"] <= 100:
        raise ProfileError("mail_limit.per_address: must be 2 to 100")
    if values["totp.algorithm"] not in ("SHA1", "SHA256", "SHA512"):
        raise ProfileError("totp.algorithm: must be SHA1, SHA256 or SHA512")
    if values["reset.mode"] not in ("code", "link"):
        raise ProfileError("reset.mode: must be code or link")
    if values["reset.mode"] != "code":
        raise ProfileError("reset.mode: this implementation serves only 'code' (protocol.md §19)")
    if values["email.max_addresses"] != 1:
        raise ProfileError("email.max_addresses: Ninsho 0.1 covers only 1 (protocol.md §7)")
    for domain in values["email.blocked_domains"]:
        if domain != domain.lower() or domain.endswith(".") or not domain or not domain.isascii():
            raise ProfileError(
                "email.blocked_domains: entries must be lower-case A-labels without a trailing dot"
            )
    for key in (*_TEXTS, *_TEXTS2):
        text = values[key]
        if not text or "\n" in text or "\r" in text:
            raise ProfileError(f"{key}: must be a non-empty text on one line")


def load_profile(path: str | Path) -> Profile:
    """Load a profile file, following ``extends`` to a sibling file of that name."""
    head, values = _read_params(Path(path).resolve(), ())
    name, title = head.get("name"), head.get("title")
    if not isinstance(name, str) or not name:
        raise ProfileError("profile.name: missing")
    if not isinstance(title, str) or not title:
        raise ProfileError("profile.title: missing")
    extra = set(head) - {"name", "title", "extends"}
    if extra:
        raise ProfileError(f"profile.{sorted(extra)[0]}: unknown field")
    _check_constraints(values)
    return Profile(name, title, values)
