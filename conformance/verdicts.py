"""Verdicts, and how a check's outcome becomes one.

A check is a pytest item marked with the requirement IDs it speaks for. Its outcome becomes a
verdict per ID: a plain pass is PASS; an assertion is FAIL (WARN for a SHOULD or MAY); the
exceptions below say the rest. A check narrows a failure to one requirement by raising
:class:`RequirementFailed` (through :func:`expect`), so a scenario tagged with five IDs does not
fail all five for one broken rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    SKIPPED = "SKIPPED"
    INCONCLUSIVE = "INCONCLUSIVE"
    FAIL = "FAIL"
    ERROR = "ERROR"

    @property
    def severity(self) -> int:
        """Worst wins when one requirement has several checks."""
        return _SEVERITY[self]


_SEVERITY = {
    Verdict.PASS: 0,
    Verdict.NOT_APPLICABLE: 1,
    Verdict.SKIPPED: 2,
    Verdict.WARN: 3,
    Verdict.INCONCLUSIVE: 4,
    Verdict.FAIL: 5,
    Verdict.ERROR: 6,
}


class RequirementFailed(AssertionError):
    """The portal broke one named requirement."""

    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(f"[{requirement}] {message}")
        self.requirement = requirement


class Inconclusive(Exception):
    """Too close to a time boundary (or otherwise undecidable) to call: never a FAIL."""

    def __init__(self, reason: str, requirement: str | None = None) -> None:
        super().__init__(reason)
        self.requirement = requirement


class Advisory(Exception):
    """The portal departs from the profile in the safe direction (e.g. a narrower TOTP
    window): a WARN, whatever the requirement's level."""

    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(f"[{requirement}] {message}")
        self.requirement = requirement


class NotApplicable(Exception):
    """The portal does not have the feature the check needs (a reason is required)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


def expect(condition: object, requirement: str, message: str) -> None:
    """``assert`` that names the requirement it checks."""
    if not condition:
        raise RequirementFailed(requirement, message)


@dataclass
class CheckResult:
    """One check's verdict on one requirement, with what was measured and the evidence."""

    requirement: str
    verdict: Verdict
    check: str
    reason: str = ""
    measured: dict[str, Any] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    expected_failure: str | None = None  # the baseline's comment, when the baseline lists it

    def as_dict(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "verdict": self.verdict.value,
            "check": self.check,
            "reason": self.reason,
            "measured": self.measured,
            "evidence": self.evidence,
            "expected_failure": self.expected_failure,
        }


def worst(verdicts: list[Verdict]) -> Verdict:
    """A requirement's verdict from its checks' verdicts: the worst of those that judged it.

    A check that was skipped or does not apply judged nothing, so it does not outrank another
    check's PASS; only when no check judged does the requirement read SKIPPED or NOT_APPLICABLE.
    """
    judged = [v for v in verdicts if v not in (Verdict.SKIPPED, Verdict.NOT_APPLICABLE)]
    return max(judged or verdicts, key=lambda v: v.severity) if verdicts else Verdict.SKIPPED
