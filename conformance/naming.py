"""A check's name as a person reads it: the scenario's own title, or what the probe checks.

A node ID (``test_features.py::test_a_university_address_cannot_be_registered_however_it_is_
spelled[fullwidth-domain-taro@\\uff4b\\uff59…]``) is for pytest: the scenario's words are
mangled into an identifier, and pytest escapes every non-ASCII character of a parameter's ID.
The reports show instead, for a pytest-bdd scenario, its title as the feature file writes it,
in the feature's language, with an outline's example values filled in; for a probe, the first
sentence of its docstring (else its name in words), with the parameter's ID unescaped, which
for the address vectors is the vector's own ID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

MAX_TITLE = 140
_PLACEHOLDER = re.compile(r"<([^<>]+)>")
_EXAMPLE = "_pytest_bdd_example"


@dataclass(frozen=True)
class Title:
    text: str
    language: str = "en"  # the scenario's language (a feature's "# language: ja"), for lang=


def check_title(item: pytest.Item) -> Title:
    """The readable name of ``item`` (see the module's docstring)."""
    scenario = _scenario(item)
    params: dict[str, Any] = dict(getattr(getattr(item, "callspec", None), "params", {}))
    if scenario is not None:
        name, language = scenario
        return Title(_fill(name, params.get(_EXAMPLE) or {}), language)
    function = getattr(item, "function", None)
    text = _first_sentence(getattr(function, "__doc__", None) or "") or _words(
        getattr(function, "__name__", item.name)
    )
    callspec_id = getattr(getattr(item, "callspec", None), "id", None)
    if callspec_id:
        text = f"{text} [{unescape_id(callspec_id)}]"
    return Title(text)


def _scenario(item: pytest.Item) -> tuple[str, str] | None:
    """(title, language) of a pytest-bdd scenario, from pytest-bdd's own record of it, else
    from the docstring it gives every scenario function ("Feature: Scenario")."""
    function = getattr(item, "function", None)
    if function is None or _EXAMPLE not in getattr(getattr(item, "_fixtureinfo", None), "argnames", ()):
        return None
    try:
        from pytest_bdd.scenario import scenario_wrapper_template_registry
    except ImportError:  # pragma: no cover - pytest-bdd moved its record: fall back to the docstring
        template = None
    else:
        template = scenario_wrapper_template_registry.get(function)
    if template is not None:
        return str(template.name), str(getattr(template.feature, "language", "en") or "en")
    doc = getattr(function, "__doc__", None) or ""
    return (doc.split(": ", 1)[1] if ": " in doc else doc) or item.name, "en"


def _fill(name: str, example: dict[str, Any]) -> str:
    """An outline's title with its example's values in place of ``<placeholders>``; values the
    title does not name are added in brackets, so two rows of one outline never read alike."""
    if not example:
        return name
    used: set[str] = set()

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in example:
            used.add(key)
            return str(example[key])
        return match.group(0)

    filled = _PLACEHOLDER.sub(value, name)
    rest = [str(v) for k, v in example.items() if k not in used]
    return f"{filled} [{', '.join(rest)}]" if rest else filled


def unescape_id(parameter_id: str) -> str:
    """pytest's escaped parameter ID (``taro@\\uff4b``) back to the characters it stands for."""
    if "\\" not in parameter_id or not parameter_id.isascii():
        return parameter_id
    try:
        return parameter_id.encode("ascii").decode("unicode_escape")
    except UnicodeDecodeError:
        return parameter_id


def _first_sentence(doc: str) -> str:
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    if len(paragraph) > MAX_TITLE:
        end = paragraph.find(". ")
        paragraph = paragraph[: end + 1] if 0 < end < MAX_TITLE else paragraph[: MAX_TITLE - 1] + "…"
    return paragraph.replace("``", "")


def _words(function_name: str) -> str:
    text = function_name.removeprefix("test_").replace("_", " ").strip()
    return text[:1].upper() + text[1:]
