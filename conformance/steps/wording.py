"""One step definition for both wordings of a step: the English feature's and the Japanese one's.

pytest-bdd registers every step definition as a pytest fixture, and looks a step up by walking
all the registered fixtures, for every step of every scenario. Two decorators per function (one
per language) made two fixtures per step, and that walk was over a third of the main job's time
(benchmarks/README.md, item 2); one definition that matches either wording halves it, and still
reads as the two sentences side by side.
"""

from __future__ import annotations

from typing import Any

from pytest_bdd.parsers import StepParser, get_parser, string


class Bilingual(StepParser):
    """Matches the English or the Japanese wording; each may be a plain string or a parser."""

    def __init__(self, english: str | StepParser, japanese: str | StepParser) -> None:
        self.wordings = (get_parser(english), get_parser(japanese))
        super().__init__(" / ".join(wording.name for wording in self.wordings))
        # pytest-bdd asks every definition about every step it runs: plain wordings answer by a
        # set lookup.
        plain = all(type(wording) is string for wording in self.wordings)
        self._exact = frozenset(wording.name for wording in self.wordings) if plain else None

    def is_matching(self, name: str) -> bool:
        if self._exact is not None:
            return name in self._exact
        return any(wording.is_matching(name) for wording in self.wordings)

    def parse_arguments(self, name: str) -> dict[str, Any] | None:
        for wording in self.wordings:
            if wording.is_matching(name):
                return wording.parse_arguments(name)
        return None


def bilingual(english: str | StepParser, japanese: str | StepParser) -> Bilingual:
    return Bilingual(english, japanese)
