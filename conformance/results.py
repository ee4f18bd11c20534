"""From pytest outcomes to verdicts per requirement, with the baseline applied.

Kept apart from the hooks so that it can be read, and tested, without a pytest run.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ninsho.conformance.errors import HarnessError
from ninsho.conformance.verdicts import CheckResult, Verdict, worst
from ninsho.spec.registry import Requirement

# Exit statuses: pytest's own 0–5, then ours. Documented in README.md.
EXIT_OK = 0
EXIT_FAIL = 1
EXIT_ERROR = 6
EXIT_STRICT = 7


def verdicts_for(
    check: str,
    requirement_ids: list[str],
    registry: dict[str, Requirement],
    excinfo: BaseException | None,
) -> list[CheckResult]:
    """The verdicts one finished check gives each requirement it is marked with.

    A :class:`HarnessError` says its own verdict and which requirements it speaks for; pytest's
    skip is SKIPPED; any other assertion is a FAIL of every requirement the check is marked with;
    anything else is the harness's own failure, an ERROR.
    """

    def result(rid: str, verdict: Verdict, reason: str = "") -> CheckResult:
        if verdict is Verdict.FAIL and registry[rid].level != "MUST":
            verdict = Verdict.WARN
        return CheckResult(rid, verdict, check, reason)

    if excinfo is None:
        return [result(rid, Verdict.PASS) for rid in requirement_ids]
    if isinstance(excinfo, HarnessError):
        if excinfo.verdict is Verdict.WARN:  # an Advisory is a WARN whatever the level
            return [
                CheckResult(rid, Verdict.WARN, check, excinfo.reason())
                for rid in excinfo.requirements(requirement_ids, registry)
            ]
        rids = excinfo.requirements(requirement_ids, registry)
        return [result(rid, excinfo.verdict, excinfo.reason()) for rid in rids]
    reason = str(excinfo).strip() or type(excinfo).__name__
    if isinstance(excinfo, pytest.skip.Exception):
        return [result(rid, Verdict.SKIPPED, reason) for rid in requirement_ids]
    if isinstance(excinfo, AssertionError):
        return [result(rid, Verdict.FAIL, reason) for rid in requirement_ids]
    return [
        result(rid, Verdict.ERROR, f"harness error {type(excinfo).__name__}: {reason}")
        for rid in requirement_ids
    ]


@dataclass
class Baseline:
    """Known failures a vendor has accepted for now, each with the reason it is accepted."""

    expected: dict[str, str] = field(default_factory=dict)  # requirement → comment

    @classmethod
    def load(cls, path: Path, registry: dict[str, Requirement]) -> Baseline:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"baseline {path}: {exc}") from None
        expected: dict[str, str] = {}
        for index, entry in enumerate(document.get("expected_failure", [])):
            rid, why = entry.get("requirement"), entry.get("reason")
            if rid not in registry:
                raise ValueError(
                    f"baseline {path}: expected_failure[{index}].requirement {rid!r} is not registered"
                )
            if not isinstance(why, str) or not why.strip():
                raise ValueError(
                    f"baseline {path}: expected_failure[{index}].reason must explain the failure"
                )
            expected[rid] = why
        return cls(expected)


@dataclass
class Summary:
    requirement: Requirement
    verdict: Verdict
    checks: list[CheckResult]
    expected_failure: str | None = None
    unexpected_pass: bool = False
    note: str = ""  # why a requirement no check judged has the verdict it has

    @property
    def measured(self) -> dict[str, Any]:
        """The figures of a requirement judged by one check; with several checks (one per
        address vector, say) each check's figures stay with the check."""
        return dict(self.checks[0].measured) if len(self.checks) == 1 else {}


def summarise(
    results: Iterable[CheckResult],
    registry: dict[str, Requirement],
    baseline: Baseline,
    suite: Collection[str] = (),
) -> list[Summary]:
    """One row per registered requirement, in the registry's order: nothing drops out unseen.

    A requirement that checks spoke for takes the worst of their verdicts. One that none did is
    NOT_TESTABLE when the registry says a run cannot judge it from outside, else SKIPPED with the
    reason: its checks were not selected (``suite`` holds the requirements of every check
    collected before selection), or the harness has no check for it.
    """
    by_id: dict[str, list[CheckResult]] = {}
    for r in results:
        by_id.setdefault(r.requirement, []).append(r)
    rows = []
    for rid, requirement in registry.items():
        checks = by_id.get(rid)
        if not checks:
            rows.append(_unjudged(requirement, suite))
            continue
        row = Summary(requirement, worst([c.verdict for c in checks]), checks)
        if rid in baseline.expected:
            row.expected_failure = baseline.expected[rid]
            row.unexpected_pass = row.verdict is Verdict.PASS
        rows.append(row)
    return rows


def _unjudged(requirement: Requirement, suite: Collection[str]) -> Summary:
    if requirement.not_testable:
        return Summary(requirement, Verdict.NOT_TESTABLE, [], note=requirement.not_testable)
    if requirement.id in suite:
        return Summary(requirement, Verdict.SKIPPED, [], note="its checks were not selected in this run")
    return Summary(requirement, Verdict.SKIPPED, [], note="the harness has no check for it yet")


def exit_status(rows: list[Summary], *, strict: bool) -> int:
    """The worst verdict that counts: baselined failures do not, unexpected passes do."""
    counted = [
        Verdict.FAIL if row.unexpected_pass else row.verdict
        for row in rows
        if not (row.expected_failure and row.verdict in (Verdict.FAIL, Verdict.WARN))
    ]
    if Verdict.ERROR in counted:
        return EXIT_ERROR
    if Verdict.FAIL in counted:
        return EXIT_FAIL
    # Strict counts every check, not only each requirement's verdict: a skipped check is a gap
    # even where another check of the same requirement passed.
    gaps = {Verdict.SKIPPED, Verdict.INCONCLUSIVE}
    if strict and any(c.verdict in gaps for row in rows for c in row.checks):
        return EXIT_STRICT
    return EXIT_OK
