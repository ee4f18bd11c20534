"""Verdicts, and how a check's outcome becomes one.

A check is a pytest item marked with the requirement IDs it speaks for. Its outcome becomes a
verdict per ID: a plain pass is PASS; an assertion is FAIL (WARN for a SHOULD or MAY); the
exceptions of :mod:`ninsho.conformance.errors` say the rest, each naming its own verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    NOT_TESTABLE = "NOT_TESTABLE"  # the registry says a run cannot judge it from outside
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
    Verdict.NOT_TESTABLE: 1,
    Verdict.SKIPPED: 2,
    Verdict.WARN: 3,
    Verdict.INCONCLUSIVE: 4,
    Verdict.FAIL: 5,
    Verdict.ERROR: 6,
}


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
    title: str = ""  # the check as a person reads it (naming.check_title); ``check`` is its node ID
    language: str = ""  # the title's language, where a feature says (en, ja)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "verdict": self.verdict.value,
            "check": self.check,
            "title": self.title or self.check,
            "language": self.language,
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
    judged = [v for v in verdicts if v not in (Verdict.SKIPPED, Verdict.NOT_APPLICABLE, Verdict.NOT_TESTABLE)]
    return max(judged or verdicts, key=lambda v: v.severity) if verdicts else Verdict.SKIPPED
