"""Profiles: every parameter the portal decides with, as data.

A profile is a TOML document (``spec/profiles/*.toml``) whose parameters are tables holding a
``value`` and its provenance: a ``source`` in the manuals or a standard, or ``assumed = true``
with the ``standard`` followed. This module only *parses* an already-decoded mapping, so the
core stays free of file I/O; reading the file is :func:`ninsho.spec.registry.load_profile`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import SpecError

ALGORITHMS = ("SHA1", "SHA256", "SHA512")
RESET_MODES = ("code", "link")


@dataclass(frozen=True)
class Provenance:
    source: str | None
    assumed: bool
    standard: str | None


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    totp_digits: int
    totp_period_seconds: int
    totp_algorithm: str
    totp_window_past_steps: int
    totp_window_future_steps: int
    totp_secret_bytes: int
    totp_issuer: str
    email_otp_digits: int
    email_otp_lifetime_seconds: int
    email_max_addresses: int
    email_blocked_domains: tuple[str, ...]
    email_block_subdomains: bool
    reset_mode: str
    confirmation_code_digits: int
    confirmation_code_lifetime_seconds: int
    reset_voids_apps: bool
    reset_clears_email: bool
    reset_placeholder_address: str
    resend_voids_previous: bool
    resend_keeps_failure_count: bool
    lockout_threshold: int
    lockout_duration_seconds: int
    password_throttle_max_failures: int
    password_throttle_window_seconds: int
    mail_limit_per_address: int
    mail_limit_window_seconds: int
    trust_browser_duration_seconds: int
    session_idle_seconds: int
    session_first_factor_seconds: int
    session_absolute_seconds: int
    mail_sender: str
    mail_subject_otp: str
    mail_subject_reset: str
    helpdesk_hours: str
    helpdesk_phone: str
    helpdesk_email: str
    provenance: Mapping[str, Provenance] = field(default_factory=dict, compare=False, repr=False)

    @property
    def parameters(self) -> dict[str, object]:
        """The values by their dotted profile key, e.g. ``{"totp.digits": 6, ...}``."""
        return {key: getattr(self, attr) for key, attr in _KEYS.items()}

    def replace(self, **changes: Any) -> Profile:
        """A copy with some values changed: how tests and faulty portals derive profiles."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Profile(**values)


# dotted key → (attribute, expected type, check). The check returns an error text or None.
def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must be 0 or more"


def _digits(v: Any) -> str | None:
    return None if 6 <= v <= 10 else "must be between 6 and 10 digits"


def _lockout(v: Any) -> str | None:
    return None if 1 <= v <= 100 else "must be between 1 and 100 (NIST SP 800-63B §5.2.2)"


def _throttle(v: Any) -> str | None:
    return None if 1 <= v <= 100 else "must be between 1 and 100 (OWASP ASVS 4.0.3 2.2.1)"


def _mail_limit(v: Any) -> str | None:
    """Two: a code and its resend, which the manuals' Resend needs (protocol.md §12.4)."""
    return None if 2 <= v <= 100 else "must be between 2 and 100 (a code and its resend at least)"


def _secret(v: Any) -> str | None:
    return None if v >= 16 else "must be at least 16 bytes, 128 bits (RFC 4226 §4 R6)"


def _one_of(options: tuple[str, ...]) -> Any:
    return lambda v: None if v in options else f"must be one of {', '.join(options)}"


# One DNS label as it travels on the wire (RFC 1035 §2.3.1, RFC 5890 §2.3.2.1): letters, digits
# and inner hyphens, 63 octets at most. An IDN is written as its A-label (xn--…).
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _is_a_label_domain(domain: object) -> bool:
    """A blocked domain is compared with addresses after their normalisation (§13), which turns
    every domain into lower-case A-labels: a domain written otherwise (a U-label, a space, a
    trailing dot) could never match one, and the block would silently hold nothing."""
    if not isinstance(domain, str) or not domain or len(domain) > 253:
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels)


def _domains(v: Any) -> str | None:
    if not v or not all(_is_a_label_domain(d) for d in v):
        return (
            "must be a non-empty list of lower-case domains without a trailing dot, "
            "each in ASCII (an IDN as its xn-- A-label)"
        )
    return None


def _text(v: Any) -> str | None:
    return None if v.strip() and not any(c in v for c in "\r\n") else "must be one non-empty line"


def _mailbox(v: Any) -> str | None:
    """An address the portal mails: one line, one local part and one domain, no spaces."""
    local, at, domain = v.rpartition("@")
    if _text(v) or not at or not local or "." not in domain or any(c.isspace() for c in v):
        return "must be one mail address such as ict-support@example.test"
    return None


_SPEC: dict[str, tuple[type, Any]] = {
    "totp.digits": (int, _digits),
    "totp.period_seconds": (int, _positive),
    "totp.algorithm": (str, _one_of(ALGORITHMS)),
    "totp.window_past_steps": (int, _non_negative),
    "totp.window_future_steps": (int, _non_negative),
    "totp.secret_bytes": (int, _secret),
    "totp.issuer": (str, _text),
    "email_otp.digits": (int, _digits),
    "email_otp.lifetime_seconds": (int, _positive),
    "email.max_addresses": (int, _positive),
    "email.blocked_domains": (list, _domains),
    "email.block_subdomains": (bool, None),
    "reset.mode": (str, _one_of(RESET_MODES)),
    "confirmation_code.digits": (int, _digits),
    "confirmation_code.lifetime_seconds": (int, _positive),
    "reset.voids_apps": (bool, None),
    "reset.clears_email": (bool, None),
    "reset.placeholder_address": (str, _text),
    "resend.voids_previous": (bool, None),
    "resend.keeps_failure_count": (bool, None),
    "lockout.threshold": (int, _lockout),
    "lockout.duration_seconds": (int, _positive),
    "password_throttle.max_failures": (int, _throttle),
    "password_throttle.window_seconds": (int, _positive),
    "mail_limit.per_address": (int, _mail_limit),
    "mail_limit.window_seconds": (int, _positive),
    "trust_browser.duration_seconds": (int, _non_negative),
    "session.idle_seconds": (int, _positive),
    "session.first_factor_seconds": (int, _positive),
    "session.absolute_seconds": (int, _positive),
    "mail.sender": (str, _text),
    "mail.subject_otp": (str, _text),
    "mail.subject_reset": (str, _text),
    "helpdesk.hours": (str, _text),
    "helpdesk.phone": (str, _text),
    "helpdesk.email": (str, _mailbox),
}
_KEYS = {key: key.replace(".", "_") for key in _SPEC}


def parse_profile(document: Mapping[str, Any], *, origin: str = "profile") -> Profile:
    """Build a :class:`Profile` from a decoded TOML document, naming the key at fault."""
    meta = document.get("profile")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        raise SpecError(f"{origin}: [profile] must have a string 'name'", field="profile.name")
    values: dict[str, Any] = {}
    provenance: dict[str, Provenance] = {}
    for key, (kind, check) in _SPEC.items():
        section, name = key.split(".")
        entry = document.get(section, {}).get(name) if isinstance(document.get(section), Mapping) else None
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise SpecError(f"{origin}: [{key}] is missing or has no 'value'", field=key)
        value = entry["value"]
        # bool is a subclass of int in Python: refuse `digits = true` explicitly.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SpecError(f"{origin}: [{key}] value must be of type {kind.__name__}", field=key)
        problem = check(value) if check else None
        if problem:
            raise SpecError(f"{origin}: [{key}] value {problem}", field=key)
        provenance[key] = _provenance(entry, key, origin)
        values[_KEYS[key]] = tuple(value) if isinstance(value, list) else value
    unknown = _unknown_keys(document)
    if unknown:
        raise SpecError(f"{origin}: unknown parameter [{unknown[0]}]", field=unknown[0])
    return Profile(
        name=meta["name"], title=str(meta.get("title", meta["name"])), provenance=provenance, **values
    )


def _provenance(entry: Mapping[str, Any], key: str, origin: str) -> Provenance:
    source, assumed, standard = entry.get("source"), entry.get("assumed", False), entry.get("standard")
    if assumed is not True and not (isinstance(source, str) and source.strip()):
        raise SpecError(
            f"{origin}: [{key}] needs a 'source', or 'assumed = true' with a 'standard'", field=key
        )
    if assumed is True and not (isinstance(standard, str) and standard.strip()):
        raise SpecError(f"{origin}: [{key}] is assumed but names no 'standard'", field=key)
    return Provenance(source=source, assumed=assumed is True, standard=standard)


def _unknown_keys(document: Mapping[str, Any]) -> list[str]:
    found = [
        f"{section}.{name}"
        for section, table in document.items()
        if section != "profile" and isinstance(table, Mapping)
        for name in table
    ]
    found += [s for s, t in document.items() if s != "profile" and not isinstance(t, Mapping)]
    return [k for k in found if k not in _SPEC]
