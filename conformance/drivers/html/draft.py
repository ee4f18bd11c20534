"""A site map being drafted by ``ninsho discover``: the keys that differ from the defaults.

Each key carries a note saying where its value was seen, and each thing that could not be
found carries the key to fill in; both become comments of the file written for review. The
draft is a site-map document, so the walk reads the portal with it as it grows (a label
learnt on the login screen is used on the next screen), and what it writes loads as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ninsho.conformance.drivers.html import sitemap
from ninsho.conformance.drivers.html.sitemap import SiteMap

Value = str | bool | list[str]


@dataclass
class Finding:
    value: Value
    note: str


@dataclass
class Draft:
    """The keys found (dotted: ``screens.settings.path``), in the order found, and the gaps."""

    found: dict[str, Finding] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (key, what was not found)
    seen: list[str] = field(default_factory=list)  # the screens walked, for the file's header

    def set(self, key: str, value: Value, note: str) -> None:
        self.found[key] = Finding(value, note)

    def add(self, key: str, text: str, note: str) -> None:
        """One more alternative of a list (a refusal class's texts)."""
        known = self.found.get(key)
        if known is None:
            self.found[key] = Finding([text], note)
        elif isinstance(known.value, list) and text not in known.value:
            known.value.append(text)
            known.note += f"; {note}"

    def also(self, key: str, text: str, note: str) -> None:
        """A name seen for ``key`` on one more screen (allauth's code field is "Code:" on the Mail
        tab, "Authenticator code:" on the App tab): the names found become alternatives."""
        known = self.found.get(key)
        if known is None or known.value == text:
            self.set(key, text, note)
        elif isinstance(known.value, str):
            self.found[key] = Finding([known.value, text], f"{known.note}; {note}")
        else:
            self.add(key, text, note)

    def miss(self, key: str, what: str) -> None:
        if (key, what) not in self.missing:
            self.missing.append((key, what))

    def document(self) -> dict[str, Any]:
        """The draft as a site-map document (nested tables)."""
        document: dict[str, Any] = {}
        for key, finding in self.found.items():
            *tables, last = key.split(".")
            into = document
            for table in tables:
                into = into.setdefault(table, {})
            into[last] = finding.value
        return document

    def site(self) -> SiteMap:
        """The defaults with the draft over them, as the driver would read them."""
        return sitemap.load(document=self.document())

    def toml(self, header: str) -> str:
        """The file for review: the keys by table, each after a comment saying where it was
        seen, then what could not be found and the key to fill in."""
        lines = [f"# {line}" if line else "#" for line in header.splitlines()]
        by_table: dict[str, list[tuple[str, Finding]]] = {}
        for key, finding in self.found.items():
            table, _, name = key.rpartition(".")
            by_table.setdefault(table, []).append((name, finding))
        for table in sorted(by_table, key=_table_order):
            lines += ["", f"[{table}]"]
            for name, finding in by_table[table]:
                lines += [f"# {part}" for part in finding.note.split("\n")]
                lines.append(f"{name} = {_value(finding.value)}")
        if self.missing:
            lines += ["", "# --- not found: fill these in (or set the capability to false) ---"]
            for key, what in self.missing:
                lines.append(f"# {key}: {what}")
        return "\n".join(lines) + "\n"


def _table_order(table: str) -> tuple[int, str]:
    section = table.split(".")[0]
    return (sitemap.SECTIONS.index(section) if section in sitemap.SECTIONS else 99, table)


def _value(value: Value) -> str:
    """A TOML value: JSON's string escapes are TOML's basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if len(value) == 1:
            return f"[{_string(value[0])}]"
        return "[\n" + "".join(f"    {_string(v)},\n" for v in value) + "]"
    return _string(value)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def keys_of(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A site-map document's values by dotted key (a refusal class's list is one value)."""
    found: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict) and "regex" not in value and "text" not in value:
            found |= keys_of(value, f"{prefix}{key}.")
        else:
            found[f"{prefix}{key}"] = value
    return found
