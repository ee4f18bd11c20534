"""The portal config: which portal, through which driver, mailbox and clock, judged by which profile.

Precedence, highest first: command-line options, then environment variables ``NINSHO_*``, then the
TOML file, then the defaults below. Secrets (passwords, tokens) never sit in the file: it names
the environment variable that holds them. Every error names the key at fault.

Example (``portal.toml``)::

    [portal]
    base_url = "https://staging.example.ac.jp"
    driver = "json"            # inprocess | json | html | a vendor's entry point name
    profile = "iimc"           # a bundled profile name, or a path to a profile file

    [accounts]
    provision = "admin-api"    # admin-api (the reference's admin API) | pool
    pool = ["qa0001", "qa0002"]
    password_env = "NINSHO_TEST_PASSWORD"
    address_domain = "example.test"   # accounts receive mail at <login id>@<address_domain>

    [admin]
    token_env = "NINSHO_ADMIN_TOKEN"

    [operator]
    command = "ssh ops portalctl helpdesk {login_id}"   # the helpdesk, where no operator API is:
                               # its standard output holds the confirmation code (conformance/helpdesk.py)
    confirm_command = "ssh ops portalctl helpdesk confirm {login_id}"   # reset.mode = "link": the
                               # helpdesk confirms the reset itself (protocol.md §19.5); exit 0: done

    [mailbox]
    kind = "smtp-sink"         # outbox | smtp-sink | imap
    host = "127.0.0.1"
    port = 2525
    timeout_seconds = 30
    quiet_seconds = 2          # no mail for this long: "none was sent" (the reference: 0.2)
    # kind = "imap" also reads user_env and password_env (the variables holding the login),
    # tls = "implicit" | "starttls" | "none" (default implicit; none on a loopback host) and
    # ca_file = "test-ca.pem" (trust a test server's own certificate; docs/imap.md)

    [clock]
    mode = "test-clock"        # virtual | test-clock | real

    [html]
    site_map = "site.toml"     # the html driver's site map, next to this file (docs/html-driver.md)
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ninsho.conformance.errors import ConfigError as ConfigError  # drivers name it from here too
from ninsho.conformance.messages import did_you_mean

MAX_CONFIG_BYTES = 256 * 1024
DRIVERS_BUILTIN = ("inprocess", "json", "html")
MAILBOXES = ("outbox", "smtp-sink", "imap")
CLOCKS = ("virtual", "test-clock", "real")


@dataclass(frozen=True)
class PortalConfig:
    base_url: str | None = None
    driver: str = "inprocess"
    profile: str = "iimc"
    provision: str = "embedded"
    pool: tuple[str, ...] = ()
    password_env: str = "NINSHO_TEST_PASSWORD"
    address_domain: str = "example.test"
    admin_token_env: str = "NINSHO_ADMIN_TOKEN"
    mailbox: str = "outbox"
    mailbox_host: str = "127.0.0.1"
    mailbox_port: int = 0
    mailbox_user_env: str = "NINSHO_IMAP_USER"
    mailbox_password_env: str = "NINSHO_IMAP_PASSWORD"
    mailbox_tls: str = "auto"  # implicit, or none on a loopback host (mailboxes.ImapMailbox)
    mailbox_ca_file: str | None = None
    operator_command: str | None = None  # the helpdesk as a command: "portalctl helpdesk {login_id}"
    operator_confirm_command: str | None = None  # link mode's: "portalctl helpdesk confirm {login_id}"
    mail_timeout_seconds: float = 30.0
    mail_quiet_seconds: float = 2.0  # how long no mail must arrive before "none was sent" holds
    clock: str = "virtual"
    html_selectors: Mapping[str, str] = field(default_factory=dict)  # old names (docs/html-driver.md)
    html_site_map: str | None = None  # the html driver's site map (a TOML file; docs/html-driver.md)
    # Not keys of the file: set under pytest-xdist (conformance/distributed.py). The folder where
    # the controller's SMTP sink files every mail; a worker reads it there instead of listening.
    mail_spool: str | None = None
    mail_spool_reader: bool = False
    # The worker's own test-clock lane (spec/protocol.md §17, "Lanes"), sent on every request.
    clock_lane: str | None = None
    source: str = "defaults"

    @property
    def embedded(self) -> bool:
        return self.driver == "inprocess"

    def secret(self, env_name: str, key: str) -> str:
        """A secret from the environment, or a clear error naming both the key and the variable."""
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(key, f"names the environment variable {env_name}, which is not set")
        return value


# (section, key) → (PortalConfig field, type, allowed values or None)
_FIELDS: dict[tuple[str, str], tuple[str, type, tuple[str, ...] | None]] = {
    ("portal", "base_url"): ("base_url", str, None),
    ("portal", "driver"): ("driver", str, None),
    ("portal", "profile"): ("profile", str, None),
    ("accounts", "provision"): ("provision", str, ("embedded", "admin-api", "pool")),
    ("accounts", "pool"): ("pool", list, None),
    ("accounts", "password_env"): ("password_env", str, None),
    ("accounts", "address_domain"): ("address_domain", str, None),
    ("admin", "token_env"): ("admin_token_env", str, None),
    ("operator", "command"): ("operator_command", str, None),
    ("operator", "confirm_command"): ("operator_confirm_command", str, None),
    ("mailbox", "kind"): ("mailbox", str, MAILBOXES),
    ("mailbox", "host"): ("mailbox_host", str, None),
    ("mailbox", "port"): ("mailbox_port", int, None),
    ("mailbox", "user_env"): ("mailbox_user_env", str, None),
    ("mailbox", "password_env"): ("mailbox_password_env", str, None),
    ("mailbox", "tls"): ("mailbox_tls", str, ("auto", "implicit", "starttls", "none")),
    ("mailbox", "ca_file"): ("mailbox_ca_file", str, None),
    ("mailbox", "timeout_seconds"): ("mail_timeout_seconds", float, None),
    ("mailbox", "quiet_seconds"): ("mail_quiet_seconds", float, None),
    ("clock", "mode"): ("clock", str, CLOCKS),
    ("html", "selectors"): ("html_selectors", dict, None),
    ("html", "site_map"): ("html_site_map", str, None),
}
ENVIRONMENT = {
    "NINSHO_BASE_URL": "portal.base_url",
    "NINSHO_DRIVER": "portal.driver",
    "NINSHO_PROFILE": "portal.profile",
    "NINSHO_MAILBOX": "mailbox.kind",
    "NINSHO_MAILBOX_PORT": "mailbox.port",
    "NINSHO_MAILBOX_TIMEOUT": "mailbox.timeout_seconds",
    "NINSHO_CLOCK": "clock.mode",
}


def load(
    path: str | Path | None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PortalConfig:
    """Merge file < environment < overrides (dotted keys, e.g. ``{"portal.driver": "json"}``)."""
    merged: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        merged.update(_read_file(Path(path)))
        origin = str(path)
    env = os.environ if environ is None else environ
    merged.update({key: env[name] for name, key in ENVIRONMENT.items() if env.get(name)})
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    values: dict[str, Any] = {"source": origin}
    for dotted, raw in merged.items():
        name, kind, allowed = _FIELDS[tuple(dotted.split(".", 1))]  # type: ignore[index]
        values[name] = _coerce(dotted, raw, kind, allowed)
    return _defaults_for(PortalConfig(**values), explicit=set(merged))


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError("file", f"{path} does not exist or is not a file")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError("file", f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        source = path.read_text(encoding="utf-8-sig")  # a byte order mark (Windows editors) is fine
    except UnicodeDecodeError:
        raise ConfigError("file", f"{path} is not UTF-8") from None
    try:
        document = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("file", f"{path} is not valid TOML: {exc}{_digits_hint(source, exc)}") from None
    flat: dict[str, Any] = {}
    sections = sorted({section for section, _ in _FIELDS})
    for section, table in document.items():
        if section not in sections:
            raise ConfigError(section, f"is not a known section{did_you_mean(section, sections)}")
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table")
        for key, value in table.items():
            if (section, key) not in _FIELDS:
                known = [k for s, k in _FIELDS if s == section]
                raise ConfigError(f"{section}.{key}", f"is not a known key{did_you_mean(key, known)}")
            flat[f"{section}.{key}"] = value
    return _html_paths(flat, path)


def _html_paths(flat: dict[str, Any], path: Path) -> dict[str, Any]:
    """A site map named in the file is found next to the file, wherever the run starts."""
    site_map = flat.get("html.site_map")
    if isinstance(site_map, str) and site_map and not Path(site_map).is_absolute():
        flat["html.site_map"] = str(path.parent / site_map)
    return flat


def _digits_hint(source: str, error: tomllib.TOMLDecodeError) -> str:
    """A number typed with a Japanese input method (full-width ``１０``) is not TOML: say so."""
    found = re.search(r"at line (\d+)", str(error))  # Python 3.11's error has no lineno yet
    lineno = int(found.group(1)) if found else None
    lines = source.splitlines()
    line = lines[lineno - 1] if isinstance(lineno, int) and 0 < lineno <= len(lines) else source
    odd = sorted(
        {c for c in line if c.isdigit() and not c.isascii()} | {c for c in line if "\uff01" <= c <= "\uff5e"}
    )
    if not odd:
        return ""
    ascii_form = line.strip().translate({ord(c): ord(c) - 0xFEE0 for c in odd if "\uff01" <= c <= "\uff5e"})
    return f"; full-width characters {''.join(odd)!r}: write {ascii_form!r}"


def _coerce(key: str, raw: Any, kind: type, allowed: tuple[str, ...] | None) -> Any:
    value: Any = raw
    if isinstance(raw, str) and kind in (int, float):  # from the environment
        try:
            if not raw.isascii():  # int() and float() would take full-width and other digits
                raise ValueError(raw)
            value = kind(raw)
        except ValueError:
            raise ConfigError(key, f"must be a number, got {raw!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not _is_kind(value, kind):
        raise ConfigError(key, f"must be a {kind.__name__}, got {type(raw).__name__}")
    if allowed is not None and value not in allowed:
        raise ConfigError(
            key, f"must be one of {', '.join(allowed)}, got {value!r}{did_you_mean(value, allowed)}"
        )
    if kind is list:
        if not all(isinstance(v, str) and v for v in value):
            raise ConfigError(key, "must be a list of login IDs")
        return tuple(value)
    if kind is dict:
        if not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(key, "must map names to CSS selectors (strings)")
        return dict(value)
    if kind is str and any(c in value for c in "\r\n\x00"):
        raise ConfigError(key, "must be one line")
    if key == "portal.base_url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(key, f"must be an http(s) URL, got {value!r}")
    if kind is float and not (math.isfinite(value) and value > 0):
        raise ConfigError(key, f"must be a number of seconds above 0, got {raw!r}")
    if key == "mailbox.ca_file" and not Path(value).is_file():
        raise ConfigError(key, f"{value} does not exist or is not a file")
    if key == "mailbox.port" and not 0 <= value <= 65535:
        raise ConfigError(key, f"must be a TCP port, got {value}")
    return value


def _is_kind(value: Any, kind: type) -> bool:
    """``isinstance`` without narrowing ``value`` (mypy would narrow it to ``object``), and
    never a bool where a number is wanted."""
    return isinstance(value, kind) and not isinstance(value, bool)


def _defaults_for(config: PortalConfig, *, explicit: set[str]) -> PortalConfig:
    """What a deployed portal implies when the file leaves it open, and what cannot work."""
    if config.embedded:
        for key, embedded_only in (("mailbox.kind", "outbox"), ("clock.mode", "virtual")):
            if key in explicit and getattr(config, _FIELDS[tuple(key.split("."))][0]) != embedded_only:  # type: ignore[index]
                raise ConfigError(key, f"the inprocess driver works only with {embedded_only}")
        return config
    if not config.base_url and config.driver in DRIVERS_BUILTIN:
        raise ConfigError("portal.base_url", f"is required for the {config.driver} driver")
    values = {**config.__dict__}
    if "accounts.provision" not in explicit:
        values["provision"] = "pool" if config.pool else "admin-api"
    elif config.provision == "embedded":
        raise ConfigError("accounts.provision", "embedded is only for the inprocess driver")
    for key, default in (("mailbox.kind", "smtp-sink"), ("clock.mode", "real")):
        name = _FIELDS[tuple(key.split("."))][0]  # type: ignore[index]
        if key not in explicit:
            values[name] = default
        elif values[name] in ("outbox", "virtual"):
            raise ConfigError(key, f"{values[name]} is only for the embedded portal (driver inprocess)")
    return PortalConfig(**values)


def keys() -> dict[str, list[str]]:
    """The file's keys, section by section (for ``ninsho check --help``)."""
    sections: dict[str, list[str]] = {}
    for section, key in _FIELDS:
        sections.setdefault(section, []).append(key)
    return sections


def secret_variables() -> dict[str, str]:
    """The environment variables the config names for secrets by default → the key naming them."""
    defaults = PortalConfig()
    return {
        defaults.password_env: "accounts.password_env",
        defaults.admin_token_env: "admin.token_env",
        defaults.mailbox_user_env: "mailbox.user_env",
        defaults.mailbox_password_env: "mailbox.password_env",
    }


def required_secrets(config: PortalConfig) -> list[tuple[str, str]]:
    """(variable, key) of the secrets a built-in driver will read, so that a missing one stops
    the run before it starts, in one line. A vendor's driver reads what it reads: it is not
    second-guessed here (its connect or the pre-flight says)."""
    if config.embedded or config.driver not in DRIVERS_BUILTIN:
        return []
    needed = []
    if config.provision == "pool":
        needed.append((config.password_env, "accounts.password_env"))
    if config.provision == "admin-api" or config.clock == "test-clock":
        needed.append((config.admin_token_env, "admin.token_env"))
    if config.mailbox == "imap":
        needed += [
            (config.mailbox_user_env, "mailbox.user_env"),
            (config.mailbox_password_env, "mailbox.password_env"),
        ]
    return needed
