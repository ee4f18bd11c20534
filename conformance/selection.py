"""``-m``: a typo in a requirement ID is an error, not an empty run.

``-m`` takes pytest's marker expression ("TOTP_WINDOW or MUST", "area_totp", "not slow"). pytest
treats an unknown marker in it as a marker no check has, so ``-m TOTP_WINDOWS`` deselected every
check and the run "passed" with exit 5. Here an identifier that looks like a requirement ID
(upper case, with an underscore) and is not registered, nor a level, nor a marker the session
knows otherwise, ends the run at once, naming it and the nearest registered ID.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from ninsho.conformance.errors import ConfigError
from ninsho.conformance.messages import did_you_mean

_IDENTIFIER = re.compile(r"[\w.:+\-\[\]\\/]+")
_LOOKS_LIKE_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_KEYWORDS = {"and", "or", "not"}


def unknown_requirements(
    expression: str, registered: Collection[str], known_markers: Iterable[str]
) -> list[str]:
    """The identifiers of ``expression`` that look like requirement IDs and name nothing."""
    known = set(registered) | set(known_markers)
    found = []
    for word in _IDENTIFIER.findall(expression or ""):
        name = word.split("(")[0]
        if name in _KEYWORDS or name in known or not _LOOKS_LIKE_ID.match(name):
            continue
        if name not in found:
            found.append(name)
    return found


def check_marker_expression(
    expression: str | None, registered: Collection[str], levels: Iterable[str], known_markers: Iterable[str]
) -> None:
    """Raise :class:`ConfigError` for the first requirement-like identifier that is unknown."""
    if not expression:
        return
    names = set(levels) | set(known_markers)
    unknown = unknown_requirements(expression, registered, names)
    if unknown:
        name = unknown[0]
        raise ConfigError(
            "-m",
            f"{name} is not a registered requirement{did_you_mean(name, registered)}"
            " (ninsho check --list shows them; -m takes IDs, levels MUST/SHOULD/MAY and area_… markers)",
        )


def marker_names(lines: Iterable[str]) -> list[str]:
    """The names of the ``markers`` ini lines ("slow: starts real subprocesses" → "slow")."""
    return [line.split(":", 1)[0].split("(", 1)[0].strip() for line in lines]
