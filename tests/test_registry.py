"""Requirement IDs come only from spec/requirements.toml, and every MUST is checked somewhere.

IDs are found where they are used on purpose: ``[ID]`` in spec/protocol.md, ``@ID`` tags in the
features, ``pytest.mark.ID`` markers, and in code the ``requirement=`` keyword, a class's
``requirement = "ID"``, ``expect(…, "ID", …)`` and the verdict exceptions. Reading these
positions (not every upper-case string) keeps environment variable names and algorithm names
out of it.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ninsho.spec.registry import requirements

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = requirements()
ID_SHAPE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
NAMED_FIRST = {"expect": 1, "RequirementFailed": 0, "Advisory": 0, "Inconclusive": 1}
NOT_IDS = {"MUST", "SHOULD", "MAY", "NOT"}


def python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def ids_in_python(path: Path) -> Iterator[tuple[str, str]]:
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        found: list[str | None] = []
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "mark"
        ):
            found.append(node.attr if ID_SHAPE.match(node.attr) else None)
        elif isinstance(node, ast.Call):
            found += [_string(k.value) for k in node.keywords if k.arg == "requirement"]
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            position = NAMED_FIRST.get(name)
            if position is not None and len(node.args) > position:
                found.append(_string(node.args[position]))
        elif isinstance(node, ast.Assign) and any(
            getattr(t, "id", "") == "requirement" for t in node.targets
        ):
            found.append(_string(node.value))
        elif isinstance(node, ast.Dict) and any(
            _string(k) == "requirement" for k in node.keys if k is not None
        ):
            found += [
                _string(v) for k, v in zip(node.keys, node.values, strict=True) if _string(k) == "requirement"
            ]
        for rid in found:
            if rid and rid not in NOT_IDS:
                yield rid, f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"


def ids_in_features() -> Iterator[tuple[str, str]]:
    for path in sorted((ROOT / "features").rglob("*.feature")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if line.strip().startswith("@"):
                for tag in line.split():
                    name = tag.lstrip("@")
                    if ID_SHAPE.match(name) and name not in NOT_IDS:
                        yield name, f"{path.relative_to(ROOT)}:{number}"


def ids_in_protocol() -> Iterator[tuple[str, str]]:
    text = (ROOT / "spec" / "protocol.md").read_text("utf-8")
    for match in re.finditer(r"\[([A-Z][A-Z0-9_]{3,})\]", text):
        if ID_SHAPE.match(match.group(1)):
            yield match.group(1), f"spec/protocol.md:{text.count(chr(10), 0, match.start()) + 1}"


def all_uses() -> list[tuple[str, str]]:
    uses = [u for p in python_files("reference", "conformance", "tests") for u in ids_in_python(p)]
    return uses + list(ids_in_features()) + list(ids_in_protocol())


def test_the_scanner_sees_ids_where_they_are_used() -> None:
    """A guard for the guard: the scanner must find the IDs this file knows are used."""
    found = {rid for rid, _ in all_uses()}
    assert {"TOTP_WINDOW", "EMAIL_BLOCKED_DOMAIN", "LOCKOUT_THRESHOLD"} <= found
    assert "NINSHO_ADMIN_TOKEN" not in found


def test_every_id_used_is_registered() -> None:
    unknown = sorted({f"{rid} at {where}" for rid, where in all_uses() if rid not in REGISTRY})
    assert not unknown, "IDs used but not in spec/requirements.toml:\n" + "\n".join(unknown)


@functools.cache
def _checked() -> frozenset[str]:
    """IDs carried by a check: a marker on a harness check or a project test, or a feature tag."""
    marked = set()
    for path in python_files("conformance/checks", "tests"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "mark"
            ):
                marked.add(node.attr)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "param":
                for keyword in node.keywords:  # pytest.param(..., marks=getattr(pytest.mark, rid))
                    marked.add(ast.unparse(keyword.value))
    return frozenset(marked | {rid for rid, _ in ids_in_features()})


@pytest.mark.parametrize("rid", sorted(r for r, req in REGISTRY.items() if req.level == "MUST"))
def test_every_must_is_checked(rid: str) -> None:
    checked = _checked()
    dynamic = "getattr(pytest.mark, requirement_of(c))" in checked  # the address vectors' markers
    vector_ids = {"EMAIL_ADDRESS_SYNTAX", "EMAIL_BLOCKED_DOMAIN", "EMAIL_BLOCKED_SUBDOMAIN"}
    vector_ids |= {"EMAIL_LOOKALIKE_ACCEPTED", "EMAIL_ADDRESS_NORMALIZATION"}
    assert rid in checked or (dynamic and rid in vector_ids), (
        f"{rid} is a MUST that no check or feature carries"
    )


def test_every_registered_id_is_in_the_protocol() -> None:
    in_prose = {rid for rid, _ in ids_in_protocol()}
    missing = sorted(set(REGISTRY) - in_prose)
    assert not missing, f"registered but never stated in spec/protocol.md: {missing}"


def test_registry_entries_are_complete() -> None:
    for rid, req in REGISTRY.items():
        assert ID_SHAPE.match(rid), rid
        assert req.level in {"MUST", "SHOULD", "MAY"}, rid
        assert req.statement.strip() and req.source, rid
