"""The English and Japanese features check the same things, and carry only registered tags."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ninsho.conformance.markers import MANUAL_TAG_PREFIX, allowed_tags, requirement_ids

from .gherkin_pairs import ExamplesBlock, FeatureShape, differences, parse_feature
from .paths import FEATURES

EN, JA = FEATURES / "en", FEATURES / "ja"
NAMES = sorted(p.name for p in EN.glob("*.feature"))


def test_both_languages_have_the_same_feature_files() -> None:
    assert NAMES, "features/en holds no feature"
    assert sorted(p.name for p in JA.glob("*.feature")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_japanese_feature_mirrors_the_english_one(name: str) -> None:
    en, ja = parse_feature(EN / name), parse_feature(JA / name)
    assert (en.language, ja.language) == ("en", "ja"), "features/ja files start with '# language: ja'"
    assert differences(en, ja) == []


@pytest.mark.parametrize("path", [EN / n for n in NAMES] + [JA / n for n in NAMES], ids=str)
def test_every_scenario_names_its_requirements_and_its_manual(path: Path) -> None:
    feature, registry, allowed = parse_feature(path), set(requirement_ids()), allowed_tags()
    for scenario in feature.scenarios:
        tags = scenario.tags | feature.tags | {t for block in scenario.examples for t in block.tags}
        assert tags <= allowed, f"{scenario.name!r}: unknown tags {sorted(tags - allowed)}"
        assert tags & registry, f"{scenario.name!r} checks no requirement ID"
        assert any(t.startswith(MANUAL_TAG_PREFIX) for t in tags), f"{scenario.name!r} names no manual"


# --- the comparison itself must see what it is there to see -------------------------------------
def _some_outline() -> FeatureShape:
    shape = parse_feature(EN / "device_clock.feature")
    assert any(s.outline for s in shape.scenarios)
    return shape


def test_a_missing_examples_row_is_a_difference() -> None:
    en = _some_outline()
    index = next(i for i, s in enumerate(en.scenarios) if s.outline)
    block = en.scenarios[index].examples[0]
    shorter = replace(
        en.scenarios[index], examples=(ExamplesBlock(block.tags, block.header, block.rows[:-1]),)
    )
    ja = replace(en, scenarios=(*en.scenarios[:index], shorter, *en.scenarios[index + 1 :]))
    assert any("rows only in en" in d for d in differences(en, ja))


def test_a_missing_tag_or_scenario_is_a_difference() -> None:
    en = _some_outline()
    first = en.scenarios[0]
    fewer_tags = replace(en, scenarios=(replace(first, tags=frozenset()), *en.scenarios[1:]))
    assert any("tags only in en" in d for d in differences(en, fewer_tags))
    assert any("scenarios in en" in d for d in differences(en, replace(en, scenarios=en.scenarios[1:])))
