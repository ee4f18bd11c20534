"""The layers of ``ninsho``, held by an AST walk over every module's imports (ARCHITECTURE.md).

::

    ninsho.cli                      dispatches to both sides
    ninsho.conformance  ninsho.reference      each imports the spec; the harness reaches the
                 \\        /                   reference only through its in-process door
                 ninsho.spec                  imports neither side

The core's own purity (no I/O, no clock) is tests/core/test_core_purity.py.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("spec", "reference", "conformance", "features")
# The harness's one door into the reference: the in-process driver and the embedded factory.
DOOR = {"conformance/drivers/inprocess.py", "conformance/drivers/embedded.py"}
# Top-level names a module of ours must never import: they are only folders in a checkout.
BARE = {"spec", "reference", "conformance", "features", "ninsho_spec", "ninsho_features"}


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute module a file imports, with its line (relative imports stay in a layer)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def modules(layer: str, root: Path = ROOT) -> list[Path]:
    return sorted(p for p in (root / layer).rglob("*.py") if "__pycache__" not in p.parts)


def violations(layer: str, allowed: set[str], *, door: Collection[str] = (), root: Path = ROOT) -> list[str]:
    """``layer``'s imports of ninsho layers outside ``allowed`` (a door file may import any)."""
    found = []
    for path in modules(layer, root):
        relative = path.relative_to(root).as_posix()
        for line, module in imports(path):
            top = module.split(".")[0]
            if top in BARE:
                found.append(f"{relative}:{line} imports the bare folder name {module}")
            parts = module.split(".")
            layered = parts[0] == "ninsho" and len(parts) > 1 and parts[1] in LAYERS
            if layered and parts[1] not in allowed and relative not in door:
                found.append(f"{relative}:{line} imports {module}")
    return found


def test_the_layers_have_modules() -> None:
    for layer in ("spec", "reference", "conformance"):
        assert len(modules(layer)) > 2, layer


def test_the_spec_imports_neither_side() -> None:
    assert violations("spec", {"spec"}) == []


def test_the_spec_is_pure_standard_library() -> None:
    """The spec layer is data and its readers: nothing a vendor would not already have."""
    third_party = [
        f"{p.relative_to(ROOT)}:{line} imports {m}"
        for p in modules("spec")
        for line, m in imports(p)
        if m.split(".")[0] not in sys.stdlib_module_names | {"ninsho"}
    ]
    assert third_party == []


def test_the_core_imports_only_itself_and_the_spec() -> None:
    found = [
        f"{p.relative_to(ROOT)}:{line} imports {m}"
        for p in sorted((ROOT / "reference" / "core").glob("*.py"))
        for line, m in imports(p)
        if m.startswith("ninsho.") and not m.startswith(("ninsho.spec", "ninsho.reference.core"))
    ]
    assert found == []


def test_the_reference_never_imports_the_harness() -> None:
    assert violations("reference", {"spec", "reference", "features"}) == []


def test_the_harness_reaches_the_reference_only_through_its_door() -> None:
    assert violations("conformance", {"spec", "conformance", "features"}, door=DOOR) == []


def test_the_door_exists_and_is_used() -> None:
    """The door is real: it imports the reference, and nothing else in the harness does."""
    for name in DOOR:
        assert any(m.startswith("ninsho.reference") for _, m in imports(ROOT / name)), name


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from ninsho.reference.core import portal", True),
        ("import ninsho.reference.faults", True),
        ("from reference.core import portal", True),
        ("import conformance.plugin", True),
        ("from ninsho.spec.profile import Profile", False),
        ("from .errors import SpecError", False),
    ],
)
def test_the_walk_sees_imports(tmp_path: Path, source: str, bad: bool) -> None:
    """The checker itself: a forbidden import in a harness module is reported."""
    module = tmp_path / "conformance" / "mod.py"
    module.parent.mkdir()
    module.write_text(source + "\n", encoding="utf-8")
    found = violations("conformance", {"spec", "conformance"}, root=tmp_path)
    assert bool(found) is bad, found
