"""Docstrings, comments and docs name only modules, objects and files that exist.

A moved module leaves its old name behind in prose, where no import fails. This reads every
source and document of the project for dotted names of ours and repository paths, and resolves
each: the longest importable prefix, then attributes.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (
    "spec",
    "reference",
    "conformance",
    "ninsho",
    "tests",
    "benchmarks",
    "docs",
    "examples",
    "features",
)
SKIP = {"portals", "cleanroom", "__pycache__"}  # fixtures written apart from the project
DOTTED = re.compile(r"(?<![\w.])ninsho\.(?:spec|reference|conformance|features|cli)(?:\.\w+)*")
BARE = re.compile(r"[`~](?:reference|conformance)\.\w+(?:\.\w+)*")
PATH = re.compile(
    r"(?<![\w/.])((?:spec|reference|conformance|features|tests|benchmarks|docs|examples|ninsho)/"
    r"[\w/.\-]+\.(?:py|md|toml|yaml|feature|html))"
)


def documents() -> list[Path]:
    found = [p for p in ROOT.glob("*.md")]
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*"):
            if (
                path.suffix in {".py", ".md", ".toml", ".yaml"}
                and not SKIP & set(path.parts)
                and path.is_file()
            ):
                found.append(path)
    return sorted(set(found))


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def stale(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(ROOT)
    found = [f"{where}: {m.group(0)}" for m in DOTTED.finditer(text) if not resolves(m.group(0))]
    found += [f"{where}: bare name {m.group(0)[1:]}" for m in BARE.finditer(text)]
    found += [
        f"{where}: {m.group(1)}"
        for m in PATH.finditer(text)
        if not (ROOT / m.group(1)).exists() and "/x." not in m.group(1).lower()
    ]
    return found


def test_prose_names_what_exists() -> None:
    problems = [line for path in documents() if path != Path(__file__) for line in stale(path)]
    assert problems == []


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("see ``ninsho.conformance.results.verdicts_for``", False),
        ("see ``ninsho.reference.profiles``", True),
        ("see :class:`~conformance.target.Target`", True),
        ("tests/core/test_core_purity.py holds it", False),
        ("tests/test_core_purity.py holds it", True),
    ],
)
def test_the_reader_finds_stale_names(
    tmp_path: Path, text: str, bad: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "tests" / "core").mkdir(parents=True)
    (tmp_path / "tests" / "core" / "test_core_purity.py").write_text("")
    doc = tmp_path / "note.md"
    doc.write_text(text)
    assert bool(stale(doc)) is bad
