"""Pair the English and Japanese features and list where they differ.

Pairing rule (documented in features/README.md): a Japanese feature has the **same file name**
as its English one, and its scenarios come **in the same order**. Paired scenarios must carry
the same tags, be of the same kind (Scenario or Scenario Outline), have the same number of
steps with the same keyword types, and the same Examples blocks: same tags, same header, same
rows. Examples values are data, not prose, so they are written identically in both languages.
The titles and step texts differ, as translations do; that they mean the same is what the
shared step functions (one function, one decorator with the English and the Japanese wording)
guarantee.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from gherkin.parser import Parser


@dataclass(frozen=True)
class ExamplesBlock:
    tags: tuple[str, ...]
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ScenarioShape:
    """What must be equal between the two languages; ``name`` is shown, not compared."""

    name: str
    line: int
    tags: frozenset[str]
    outline: bool
    step_types: tuple[str, ...]
    examples: tuple[ExamplesBlock, ...]


@dataclass(frozen=True)
class FeatureShape:
    path: Path
    language: str
    tags: frozenset[str]
    scenarios: tuple[ScenarioShape, ...]


def _tags(node: dict[str, Any]) -> frozenset[str]:
    return frozenset(tag["name"].lstrip("@") for tag in node.get("tags", []))


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(cell["value"] for cell in row["cells"])


def parse_feature(path: Path) -> FeatureShape:
    # The parser's TypedDicts are read as plain data here: the shape is gherkin's AST.
    document = cast(dict[str, Any], Parser().parse(path.read_text(encoding="utf-8")))
    feature: dict[str, Any] = document["feature"]
    scenarios = []
    for child in feature["children"]:
        scenario = child.get("scenario")
        if scenario is None:
            continue
        examples = tuple(
            ExamplesBlock(
                tags=tuple(sorted(_tags(block))),
                header=_cells(block["tableHeader"]) if block.get("tableHeader") else (),
                rows=tuple(_cells(row) for row in block.get("tableBody", [])),
            )
            for block in scenario.get("examples", [])
        )
        scenarios.append(
            ScenarioShape(
                name=scenario["name"],
                line=scenario["location"]["line"],
                tags=_tags(scenario),
                outline=bool(scenario.get("examples")),
                step_types=tuple(step["keywordType"] for step in scenario["steps"]),
                examples=examples,
            )
        )
    return FeatureShape(path, feature["language"], _tags(feature), tuple(scenarios))


def differences(en: FeatureShape, ja: FeatureShape) -> list[str]:
    """Everything that one language has and the other lacks, in words."""
    found: list[str] = []
    name = en.path.name
    if en.tags != ja.tags:
        found.append(f"{name}: feature tags differ: en {sorted(en.tags)} / ja {sorted(ja.tags)}")
    if len(en.scenarios) != len(ja.scenarios):
        found.append(f"{name}: {len(en.scenarios)} scenarios in en, {len(ja.scenarios)} in ja")
    for index, (e, j) in enumerate(zip(en.scenarios, ja.scenarios, strict=False), start=1):
        where = f"{name} scenario {index} ({e.name!r} / {j.name!r})"
        if e.tags != j.tags:
            found.append(
                f"{where}: tags only in en {sorted(e.tags - j.tags)}, only in ja {sorted(j.tags - e.tags)}"
            )
        if e.outline != j.outline:
            found.append(f"{where}: one is a Scenario Outline, the other is not")
        if e.step_types != j.step_types:
            found.append(f"{where}: steps differ: en {e.step_types} / ja {j.step_types}")
        if len(e.examples) != len(j.examples):
            found.append(f"{where}: {len(e.examples)} Examples blocks in en, {len(j.examples)} in ja")
        for number, (ex, jx) in enumerate(zip(e.examples, j.examples, strict=False), start=1):
            if ex.tags != jx.tags:
                found.append(f"{where} Examples {number}: tags en {ex.tags} / ja {jx.tags}")
            if ex.header != jx.header:
                found.append(f"{where} Examples {number}: header en {ex.header} / ja {jx.header}")
            only_en = [row for row in ex.rows if row not in jx.rows]
            only_ja = [row for row in jx.rows if row not in ex.rows]
            if only_en or only_ja:
                found.append(f"{where} Examples {number}: rows only in en {only_en}, only in ja {only_ja}")
            elif ex.rows != jx.rows:
                found.append(f"{where} Examples {number}: the rows are in a different order")
    return found


def pair_key(feature_file: str, line: int) -> tuple[str, int, str]:
    """(file name, position, name) of the scenario at ``line``; the first two are the key
    shared by its two translations."""
    shape = parse_feature(Path(feature_file))
    for index, scenario in enumerate(shape.scenarios):
        if scenario.line == line:
            return Path(feature_file).name, index, scenario.name
    raise KeyError(f"no scenario starts at line {line} of {feature_file}")
