"""Profile loading: the portal's numbers and texts come from a spec profile TOML file.

A profile may say ``extends = "NAME"`` in ``[profile]``; the parent ``NAME.toml`` beside it is
loaded first and every parameter of the child replaces the parent's.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_KEYS = (
    "totp.digits",
    "totp.period_seconds",
    "totp.algorithm",
    "totp.window_past_steps",
    "totp.window_future_steps",
    "totp.secret_bytes",
    "totp.issuer",
    "email_otp.digits",
    "email_otp.lifetime_seconds",
    "email.blocked_domains",
    "email.block_subdomains",
    "confirmation_code.digits",
    "confirmation_code.lifetime_seconds",
    "reset.voids_apps",
    "reset.clears_email",
    "reset.placeholder_address",
    "resend.voids_previous",
    "resend.keeps_failure_count",
    "lockout.threshold",
    "lockout.duration_seconds",
    "password_throttle.max_failures",
    "password_throttle.window_seconds",
    "mail_limit.per_address",
    "mail_limit.window_seconds",
    "trust_browser.duration_seconds",
    "session.idle_seconds",
    "session.first_factor_seconds",
    "session.absolute_seconds",
    "mail.sender",
    "mail.subject_otp",
    "mail.subject_reset",
    "helpdesk.hours",
    "helpdesk.phone",
    "helpdesk.email",
)


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file or key at fault."""


@dataclass(frozen=True)
class Profile:
    """The flattened parameters (``section.name`` -> value) of one profile."""

    name: str
    values: dict[str, Any]

    def num(self, key: str) -> int:
        """An integer parameter (rejects booleans, which TOML would also call int)."""
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfileError(f"{key}: expected an integer")
        return value

    def text(self, key: str) -> str:
        """A text parameter."""
        value = self.values[key]
        if not isinstance(value, str):
            raise ProfileError(f"{key}: expected a string")
        return value

    def flag(self, key: str) -> bool:
        """A boolean parameter."""
        value = self.values[key]
        if not isinstance(value, bool):
            raise ProfileError(f"{key}: expected a boolean")
        return value

    def domains(self) -> tuple[str, ...]:
        """The blocked domains, lower-case without a trailing dot."""
        value = self.values["email.blocked_domains"]
        if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
            raise ProfileError("email.blocked_domains: expected a list of strings")
        return tuple(d.lower().rstrip(".") for d in value)


def _flatten(doc: dict[str, Any], origin: Path) -> dict[str, Any]:
    """Turn ``[section.name] value = ...`` tables into ``{"section.name": value}``."""
    flat: dict[str, Any] = {}
    for section, table in doc.items():
        if section == "profile":
            continue
        if not isinstance(table, dict):
            raise ProfileError(f"{origin}: [{section}] is not a table")
        for name, param in table.items():
            if not isinstance(param, dict) or "value" not in param:
                raise ProfileError(f"{origin}: {section}.{name} has no value")
            flat[f"{section}.{name}"] = param["value"]
    return flat


def load_profile(path: str | Path, _seen: frozenset[Path] = frozenset()) -> Profile:
    """Read a profile file, merging the profile it extends."""
    file = Path(path).resolve()
    if file in _seen:
        raise ProfileError(f"{file}: circular 'extends'")
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{file}: cannot read profile: {exc}") from exc
    head = doc.get("profile", {})
    values: dict[str, Any] = {}
    parent = head.get("extends")
    if parent:
        values.update(load_profile(file.with_name(f"{parent}.toml"), _seen | {file}).values)
    values.update(_flatten(doc, file))
    missing = [key for key in _KEYS if key not in values]
    if missing:
        raise ProfileError(f"{file}: missing parameter {missing[0]}")
    profile = Profile(name=str(head.get("name", file.stem)), values=values)
    for key in ("totp.digits", "email_otp.digits", "confirmation_code.digits", "lockout.threshold"):
        profile.num(key)
    if profile.text("totp.algorithm") not in ("SHA1", "SHA256", "SHA512"):
        raise ProfileError("totp.algorithm: must be SHA1, SHA256 or SHA512")
    profile.domains()
    return profile
