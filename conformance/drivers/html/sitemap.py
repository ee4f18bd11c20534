"""The site map: everything the html driver assumes about a portal's pages, in one TOML file.

How each screen is recognised, what its fields, buttons and links are called, the menu, the
refusal messages by class, how the registered address is shown, and what the portal has at
all (its capabilities). The defaults (``default_site.toml``, shipped with the package) are the
portal of the manuals; a portal's own file, named by ``[html] site_map`` in the portal config,
overrides any key. docs/html-driver.md documents every key.

Every wording carries its dotted key (``fields.otp``), so when the driver cannot find a thing
its error names the key that would fix it. An unknown key is a :class:`ConfigError`, never a
typo that silently does nothing.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from ninsho.conformance.config import ConfigError
from ninsho.conformance.drivers.html.charset import codec_for
from ninsho.conformance.drivers.html.text import contains_text, same_text, squash

MAX_SITE_MAP_BYTES = 256 * 1024
STAGES = ("signed_out", "first_factor", "signed_in", "reset")
# The refusal classes: the error names the checks compare (the JSON binding's, spec §16.3),
# each with the field at fault it reports.
ERRORS: dict[str, str | None] = {
    "authentication_failed": None,
    "code_rejected": "code",
    "invalid_input": None,
    "invalid_address": "address",
    "blocked_address": "address",
    "account_locked": None,
    "rate_limited": None,
    "not_permitted": None,
    "session_expired": None,
    "nothing_pending": None,
    "csrf_rejected": "csrf_token",
}
CAPABILITIES = ("email_login", "app_registration", "trust_browser", "reset", "reset_code_reentry")
NAMED = {
    "fields": (
        "login_id",
        "password",
        "otp",
        "address",
        "confirm_code",
        "trust_browser",
        "remember_login_id",
    ),
    "buttons": ("login", "send_otp", "confirm", "register", "initialize", "resend", "trust", "dont_trust"),
    "links": ("setup", "email_login", "app_login", "mail_tab", "app_tab"),
    "menu": ("open", "settings", "logout"),
    "texts": ("manual_key", "reset_login_id", "reset_address"),
}
SCREEN_KEYS = ("stage", "heading", "title", "text", "path", "setup_text")
DRIVER_SCREENS = ("login", "mfa_app", "mfa_email", "settings", "home", "initialize", "reset")
SECTIONS = ("site", "capabilities", "screens", *NAMED, "boxes", "address", "refusals")

# The names of the [html] selectors of earlier versions, and the site-map keys they now set.
LEGACY: dict[str, str] = {
    **{f"field_{n}": f"fields.{n}" for n in NAMED["fields"]},
    **{f"button_{n}": f"buttons.{n}" for n in ("login", "send_otp", "confirm", "register", "initialize", "resend")},
    "button_logout": "menu.logout",
    **{f"link_{n}": f"links.{n}" for n in NAMED["links"]},
    "link_settings": "menu.settings",
    **{f"heading_{n}": f"screens.{n}.heading" for n in ("login", "mfa_app", "mfa_email", "settings", "initialize", "reset")},
    "text_setup_needed": "screens.settings.setup_text",
    "text_registered_address": "address.settings_label",
    "text_reset_login_id": "texts.reset_login_id",
    "text_reset_address": "texts.reset_address",
    "text_manual_key": "texts.manual_key",
    "notice_email_sent": "address.sent_notice",
    "box_error": "boxes.error",
    "box_notice": "boxes.notice",
    **{f"page_{n}": f"screens.{n}.path" for n in ("login", "settings", "mfa_app", "mfa_email")},
}  # fmt: skip


def _nfkc(text: str) -> str:
    return squash(unicodedata.normalize("NFKC", text.replace("\n", " ")))


@dataclass(frozen=True)
class Wording:
    """The texts (and regexes) a thing is shown with, and the site-map key they come from."""

    key: str
    texts: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()

    def __call__(self, shown: str) -> bool:
        """Shown as one of the texts (either half), or matching a regex."""
        return any(same_text(t, shown) for t in self.texts) or self._searched(shown)

    def within(self, shown: str) -> bool:
        """One of the texts inside ``shown``, or a regex matching: for messages."""
        return any(contains_text(t, shown) for t in self.texts) or self._searched(shown)

    def _searched(self, shown: str) -> bool:
        return bool(self.patterns) and any(p.search(_nfkc(shown)) for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.texts or self.patterns)

    def describe(self) -> str:
        shown = [f"«{t}»" for t in self.texts] + [f"/{p.pattern}/" for p in self.patterns]
        return f"{' or '.join(shown) or 'nothing'} [{self.key}]"


@dataclass(frozen=True)
class Screen:
    name: str
    stage: str
    heading: Wording
    title: Wording
    text: Wording
    path: str | None = None
    setup_text: Wording | None = None

    def keys(self) -> str:
        return f"screens.{self.name}.heading/title/text"


@dataclass(frozen=True)
class Refusal:
    error: str
    field: str | None
    wording: Wording


@dataclass(frozen=True)
class AddressDisplay:
    display: str  # auto | full | masked
    mask: re.Pattern[str]
    settings_label: Wording
    sent_notice: tuple[str, ...]


@dataclass(frozen=True)
class SiteMap:
    source: str
    start: str
    charset: str | None
    capabilities: Mapping[str, bool]
    screens: Mapping[str, Screen]
    words: Mapping[str, Wording]  # fields.*, buttons.*, links.*, menu.*, texts.* by dotted key
    boxes: Mapping[str, str]
    address: AddressDisplay
    refusals: tuple[Refusal, ...] = field(default=())
    declared: frozenset[str] = frozenset()  # the keys the portal's own site map (or selectors) set

    def __getitem__(self, key: str) -> Wording:
        return self.words[key]

    def classify(self, *messages: str) -> Refusal | None:
        """The class of a refusal message (in either language), or None. A code shown beside
        it is not its wording (:func:`without_codes`)."""
        plain = [without_codes(m) for m in messages if m]
        for refusal in self.refusals:
            if any(m and refusal.wording.within(m) for m in plain):
                return refusal
        return None


# A code a portal shows beside a message, "(SECOND_FACTOR_REQUIRED)" or "[EMAIL_BLOCKED_DOMAIN]",
# names it for the portal's own people: it is not the message's wording, and its words would
# mislead a class ("REQUIRED" is not "this field is required").
_CODE = re.compile(r"[\[(（]?\s*\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b\s*[\])）]?")


def without_codes(message: str) -> str:
    """``message`` without the identifiers in capitals and underscores shown beside it."""
    return " ".join(_CODE.sub(" ", message).split())


# --- loading -------------------------------------------------------------------------------
def default_document() -> dict[str, Any]:
    text = resources.files("ninsho.conformance.drivers.html").joinpath("default_site.toml").read_text("utf-8")
    return tomllib.loads(text)


def read_document(path: Path) -> dict[str, Any]:
    """A site-map file, as TOML; every problem is a ConfigError on ``html.site_map``."""
    if not path.is_file():
        raise ConfigError("html.site_map", f"{path} does not exist or is not a file")
    if path.stat().st_size > MAX_SITE_MAP_BYTES:
        raise ConfigError("html.site_map", f"{path} is larger than {MAX_SITE_MAP_BYTES} bytes")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("html.site_map", f"{path} is not UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("html.site_map", f"{path} is not valid TOML: {exc}") from None


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on ``base``: tables key by key, any other value replaced. A portal's refusal
    classes go first, so its own wording wins over a broad default."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    if "refusals" in over and isinstance(over["refusals"], dict) and isinstance(merged.get("refusals"), dict):
        mine = dict(over["refusals"])
        merged["refusals"] = {**mine, **{k: v for k, v in merged["refusals"].items() if k not in mine}}
    return merged


def legacy_document(selectors: Mapping[str, str]) -> dict[str, Any]:
    """``[html] selectors`` of earlier versions as a site-map document; an unknown name is a
    ConfigError listing the known ones."""
    unknown = sorted(set(selectors) - set(LEGACY))
    if unknown:
        raise ConfigError("html.selectors", f"unknown names {unknown}; known: {', '.join(sorted(LEGACY))}")
    document: dict[str, Any] = {}
    for name, value in selectors.items():
        *tables, last = LEGACY[name].split(".")
        into = document
        for table in tables:
            into = into.setdefault(table, {})
        into[last] = [value] if name in ("text_setup_needed", "notice_email_sent") else value
    return document


# The paths the selectors of earlier versions typed into the address bar (the reference's).
LEGACY_PATHS = {
    "page_login": "/login",
    "page_settings": "/settings",
    "page_mfa_app": "/mfa/app",
    "page_mfa_email": "/mfa/email",
}


def legacy_selectors() -> dict[str, str]:
    """The default site map as the ``SELECTORS`` of earlier versions (one text a name)."""
    site = build(default_document(), "default")
    found: dict[str, str] = {}
    for name, key in LEGACY.items():
        if name in LEGACY_PATHS:
            found[name] = LEGACY_PATHS[name]
        elif key.startswith("boxes."):
            found[name] = site.boxes[key.split(".")[1]]
        elif key == "address.sent_notice":
            found[name] = site.address.sent_notice[0]
        else:
            found[name] = next(iter(_lookup(site, key).texts), "")
    return found


def _lookup(site: SiteMap, key: str) -> Wording:
    if key in site.words:
        return site.words[key]
    if key == "address.settings_label":
        return site.address.settings_label
    _, name, attribute = key.split(".")
    found = getattr(site.screens[name], attribute)
    assert isinstance(found, Wording)
    return found


def load(
    path: Path | None = None,
    selectors: Mapping[str, str] | None = None,
    document: Mapping[str, Any] | None = None,
) -> SiteMap:
    """The defaults, then the portal's file (or ``document``), then the legacy selectors."""
    merged = default_document()
    source = "default"
    declared: set[str] = set()
    portal: list[Mapping[str, Any]] = []
    if path is not None:
        portal.append(read_document(path))
        source = str(path)
    if document is not None:
        portal.append(document)
        source = "document"
    if selectors:
        # A name left at its old default changes nothing (and keeps the default's variants).
        defaults = legacy_selectors()
        changed = {k: v for k, v in selectors.items() if k in LEGACY_PATHS or defaults.get(k) != v}
        portal.append(legacy_document(changed))
    for over in portal:
        merged = merge(merged, over)
        declared |= set(_dotted(over))
    built = build(merged, source)
    return replace(built, declared=frozenset(declared))


def _dotted(table: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in table.items():
        if isinstance(value, dict) and prefix.count(".") < 1 and key != "regex":
            keys += _dotted(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


def build(document: Mapping[str, Any], source: str) -> SiteMap:
    """A checked site map from a merged document."""
    _known(document, SECTIONS, "")
    site = _table(document, "site")
    _known(site, ("start", "charset"), "site")
    start = _string(site.get("start", ""), "site.start")
    forced = _string(site.get("charset", ""), "site.charset") or None
    if forced is not None and codec_for(forced) is None:
        raise _error("site.charset", f"{forced!r} is not a charset")
    capabilities = _capabilities(_table(document, "capabilities"))
    words: dict[str, Wording] = {}
    for section, known in NAMED.items():
        table = _table(document, section)
        _known(table, known, section)
        for name in known:
            words[f"{section}.{name}"] = wording(table.get(name, []), f"{section}.{name}")
    boxes = _table(document, "boxes")
    _known(boxes, ("error", "notice"), "boxes")
    checked_boxes = {name: _selector(boxes.get(name, ""), f"boxes.{name}") for name in ("error", "notice")}
    return SiteMap(
        source,
        start,
        forced,
        capabilities,
        _screens(_table(document, "screens")),
        words,
        checked_boxes,
        _address(_table(document, "address")),
        _refusals(_table(document, "refusals")),
    )


def _error(key: str, message: str) -> ConfigError:
    return ConfigError("html.site_map", f"{key}: {message}")


def _table(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise _error(key, "must be a table")
    return value


def _known(table: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        prefix = f"{where}." if where else ""
        raise _error(f"{prefix}{unknown[0]}", f"is not a known key; known: {', '.join(known)}")


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise _error(key, f"must be a string, got {type(value).__name__}")
    return value


def wording(value: Any, key: str) -> Wording:
    """A text, a regex table ``{ regex = "…" }``, or a list of them."""
    items = value if isinstance(value, list) else [value]
    texts: list[str] = []
    patterns: list[re.Pattern[str]] = []
    for item in items:
        if isinstance(item, str):
            if item.strip():
                texts.append(item)
        elif isinstance(item, dict) and set(item) == {"regex"} and isinstance(item["regex"], str):
            try:
                patterns.append(re.compile(item["regex"], re.IGNORECASE))
            except re.error as exc:
                raise _error(key, f"the regex {item['regex']!r} is not valid: {exc}") from None
        else:
            raise _error(key, 'must be a text, { regex = "…" }, or a list of them')
    return Wording(key, tuple(texts), tuple(patterns))


def _capabilities(table: Mapping[str, Any]) -> dict[str, bool]:
    _known(table, CAPABILITIES, "capabilities")
    found: dict[str, bool] = {}
    for name in CAPABILITIES:
        value = table.get(name, True)
        if not isinstance(value, bool):
            raise _error(f"capabilities.{name}", "must be true or false")
        found[name] = value
    return found


def _screens(table: Mapping[str, Any]) -> dict[str, Screen]:
    screens: dict[str, Screen] = {}
    for name, raw in table.items():
        key = f"screens.{name}"
        if not isinstance(raw, dict):
            raise _error(key, "must be a table")
        _known(raw, SCREEN_KEYS, key)
        stage = raw.get("stage")
        if stage not in STAGES:
            raise _error(f"{key}.stage", f"must be one of {', '.join(STAGES)}, got {stage!r}")
        screen = Screen(
            name,
            stage,
            wording(raw.get("heading", []), f"{key}.heading"),
            wording(raw.get("title", []), f"{key}.title"),
            wording(raw.get("text", []), f"{key}.text"),
            _string(raw["path"], f"{key}.path") if raw.get("path") else None,
            wording(raw.get("setup_text", []), f"{key}.setup_text"),
        )
        if not (screen.heading or screen.title or screen.text):
            raise _error(key, "needs a heading, a title or a text to be recognised by")
        screens[name] = screen
    missing = [name for name in DRIVER_SCREENS if name not in screens]
    if missing:
        raise _error("screens", f"the driver needs the screens {', '.join(missing)}")
    return screens


def _selector(value: Any, key: str) -> str:
    selector = _string(value, key)
    if not selector.strip():
        raise _error(key, "must be a CSS selector")
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except (SelectolaxError, ValueError) as exc:
        raise _error(key, f"{selector!r} is not a CSS selector: {exc}") from None
    return selector


def _address(table: Mapping[str, Any]) -> AddressDisplay:
    _known(table, ("display", "mask", "settings_label", "sent_notice"), "address")
    display = table.get("display", "auto")
    if display not in ("auto", "full", "masked"):
        raise _error("address.display", f"must be auto, full or masked, got {display!r}")
    mask = _string(table.get("mask", ""), "address.mask")
    try:
        compiled = re.compile(mask)
    except re.error as exc:
        raise _error("address.mask", f"is not a valid regex: {exc}") from None
    if "domain" not in compiled.groupindex:
        raise _error("address.mask", "needs a group (?P<domain>…); (?P<head>…) and (?P<tail>…) are optional")
    notices = table.get("sent_notice", [])
    notices = notices if isinstance(notices, list) else [notices]
    if not all(isinstance(n, str) and "{address}" in n for n in notices):
        raise _error("address.sent_notice", "must be texts with {address} where the address stands")
    return AddressDisplay(
        display, compiled, wording(table.get("settings_label", []), "address.settings_label"), tuple(notices)
    )


def _refusals(table: Mapping[str, Any]) -> tuple[Refusal, ...]:
    unknown = sorted(set(table) - set(ERRORS))
    if unknown:
        raise _error(
            f"refusals.{unknown[0]}", f"is not an error name the checks know; known: {', '.join(ERRORS)}"
        )
    found: list[Refusal] = []
    for error, value in table.items():
        key = f"refusals.{error}"
        for item in value if isinstance(value, list) else [value]:
            field: str | None = ERRORS[error]
            if isinstance(item, dict) and ("field" in item or "text" in item):
                rest = {k: v for k, v in item.items() if k != "field"}
                field = item.get("field", field)
                if not isinstance(field, str) or set(rest) not in ({"text"}, {"regex"}):
                    raise _error(
                        key,
                        'an entry with a field is { text = "…", field = "…" } or { regex = "…", field = "…" }',
                    )
                item = rest.get("text", rest)
            found.append(Refusal(error, field, wording(item, key)))
    return tuple(found)
