"""The specification's data files, read from the installed package, not from a checkout.

``spec/`` ships as the package ``ninsho.spec`` (see pyproject.toml), so a wheel installed in a
vendor's CI finds the same profiles, registry and vectors as a developer's clone.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from ninsho.spec.errors import SpecError
from ninsho.spec.profile import Profile, parse_profile

MAX_PROFILE_BYTES = 256 * 1024


def spec_root() -> Traversable:
    return files("ninsho.spec")


def read_toml(relative: str) -> dict[str, Any]:
    """A TOML file of the spec, by its path below ``spec/``."""
    node = spec_root()
    for part in relative.split("/"):
        node = node / part
    return tomllib.loads(node.read_text(encoding="utf-8"))


def profile_names() -> list[str]:
    folder = spec_root() / "profiles"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """A bundled profile by name (``iimc``), or a vendor's profile file by path."""
    text = str(name_or_path)
    if text in profile_names():
        return parse_profile(_extended(read_toml(f"profiles/{text}.toml"), text), origin=f"profile {text}")
    path = Path(text)
    if not path.is_file():
        known = ", ".join(profile_names())
        raise SpecError(f"no profile {text!r}: give a file or one of {known}", field="profile")
    if path.stat().st_size > MAX_PROFILE_BYTES:
        raise SpecError(f"{path}: larger than {MAX_PROFILE_BYTES} bytes", field="profile")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not valid UTF-8 TOML: {exc}", field="profile") from None
    return parse_profile(_extended(document, str(path)), origin=str(path))


def _extended(document: dict[str, Any], origin: str) -> dict[str, Any]:
    """``[profile] extends = "iimc"``: the bundled base, with this document's parameters over it.

    Only bundled profiles can be extended, and only one level deep, so a profile is always
    readable from at most two files.
    """
    meta = document.get("profile")
    base_name = meta.get("extends") if isinstance(meta, dict) else None
    if base_name is None:
        return document
    if base_name not in profile_names():
        known = ", ".join(profile_names())
        raise SpecError(
            f"{origin}: [profile] extends {base_name!r}, not one of {known}", field="profile.extends"
        )
    base = read_toml(f"profiles/{base_name}.toml")
    if "extends" in base["profile"]:
        raise SpecError(
            f"{origin}: [profile] extends {base_name!r}, which extends another", field="profile.extends"
        )
    merged: dict[str, Any] = {section: dict(table) for section, table in base.items() if section != "profile"}
    for section, table in document.items():
        if section == "profile" or not isinstance(table, dict):
            merged[section] = table
        else:
            merged.setdefault(section, {}).update(table)
    return merged


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    area: str
    statement: str
    source: tuple[str, ...]
    parameters: tuple[str, ...]
    # Why a conformance run cannot judge it from outside the portal (a verdict of NOT_TESTABLE),
    # or None: it can, and a check must.
    not_testable: str | None = None
    # The profile values under which it applies, as (dotted key, value) pairs; empty: always.
    applies_when: tuple[tuple[str, object], ...] = ()

    def inapplicable(self, profile: Profile) -> str | None:
        """Why this requirement does not apply under ``profile`` (protocol.md §19.1), or None."""
        values = profile.parameters
        for key, wanted in self.applies_when:
            if values.get(key) != wanted:
                return (
                    f"{self.id} applies only with {key} = {wanted!r}; "
                    f"profile {profile.name} has {values.get(key)!r}"
                )
        return None


def requirements() -> dict[str, Requirement]:
    """The registry ``spec/requirements.toml``: the only place requirement IDs come from."""
    table = read_toml("requirements.toml")["requirements"]
    return {
        rid: Requirement(
            id=rid,
            level=entry["level"],
            area=entry["area"],
            statement=entry["statement"],
            source=tuple(entry["source"]),
            parameters=tuple(entry.get("parameters", ())),
            not_testable=entry.get("not_testable"),
            applies_when=tuple(entry.get("applies_when", {}).items()),
        )
        for rid, entry in table.items()
    }
