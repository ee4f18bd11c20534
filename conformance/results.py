"""From pytest outcomes to verdicts per requirement, with the baseline applied.

Kept apart from the hooks so that it can be read, and tested, without a pytest run.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ninsho.conformance.errors import HarnessError, RequirementFailed
from ninsho.conformance.messages import did_you_mean, strip_html
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
    soft_failures: Iterable[RequirementFailed] = (),
) -> list[CheckResult]:
    """The verdicts one finished check gives each requirement it is marked with, and each one
    it found broken on its way and went on past (``soft_failures``: :func:`with_soft_failures`).

    A :class:`HarnessError` says its own verdict and which requirements it speaks for; pytest's
    skip is SKIPPED; any other assertion is a FAIL of every requirement the check is marked with;
    anything else is the harness's own failure, an ERROR. A check that stopped on one requirement
    (a FAIL of A in a check marked A and B) never judged the others: each still gets a line,
    SKIPPED as not reached, with the reason, so that no requirement it carries drops out of the
    report unseen (:func:`_not_reached`).
    """
    results = _verdicts(check, requirement_ids, registry, excinfo)
    results += _not_reached(check, requirement_ids, results)
    return with_soft_failures(results, check, registry, soft_failures)


def with_soft_failures(
    results: list[CheckResult],
    check: str,
    registry: dict[str, Requirement],
    soft_failures: Iterable[RequirementFailed],
) -> list[CheckResult]:
    """A check that found a rule broken and went on (a mail with a wrong subject, whose code it
    still used: ``Transcript.fail_softly``) FAILs that requirement whatever its own outcome: the
    broken rule is evidence, so it replaces the requirement's PASS, SKIPPED, INCONCLUSIVE or
    ERROR, and a requirement the check is not marked with gets a line of its own. The check's
    other requirements keep what its outcome gave them; a hard FAIL of the same one stays."""
    by_id = {r.requirement: r for r in results}
    for failure in soft_failures:
        rid = failure.requirement
        if rid is None or rid not in registry:
            continue
        found = by_id.get(rid)
        if found is not None and found.verdict in (Verdict.FAIL, Verdict.WARN):
            continue
        verdict = Verdict.FAIL if registry[rid].level == "MUST" else Verdict.WARN
        by_id[rid] = CheckResult(rid, verdict, check, strip_html(failure.reason()))
        if found is not None:
            results[results.index(found)] = by_id[rid]
        else:
            results.append(by_id[rid])
    return results


def _not_reached(check: str, requirement_ids: list[str], results: list[CheckResult]) -> list[CheckResult]:
    """SKIPPED for each marked requirement that ``results`` leave out. SKIPPED, not
    INCONCLUSIVE: the check judged nothing about them, so it must not outrank another check's
    PASS of the same requirement (``verdicts.worst``), yet the row still shows why."""
    if not results:
        return []
    spoken = {r.requirement for r in results}
    stopped = "; ".join(f"{r.requirement} {r.verdict.value}" for r in results)
    reason = f"not reached: the check stopped early ({stopped}) before it judged this requirement"
    return [CheckResult(rid, Verdict.SKIPPED, check, reason) for rid in requirement_ids if rid not in spoken]


def _verdicts(
    check: str,
    requirement_ids: list[str],
    registry: dict[str, Requirement],
    excinfo: BaseException | None,
) -> list[CheckResult]:
    def result(rid: str, verdict: Verdict, reason: str = "") -> CheckResult:
        if verdict is Verdict.FAIL and registry[rid].level != "MUST":
            verdict = Verdict.WARN
        return CheckResult(rid, verdict, check, strip_html(reason))

    if excinfo is None:
        return [result(rid, Verdict.PASS) for rid in requirement_ids]
    if isinstance(excinfo, HarnessError):
        if excinfo.verdict is Verdict.WARN:  # an Advisory is a WARN whatever the level
            return [
                CheckResult(rid, Verdict.WARN, check, strip_html(excinfo.reason()))
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
        """Read a baseline; every mistake in it is one line naming the entry (a ValueError).
        A byte order mark, which Windows editors write, is allowed."""
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"baseline {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"baseline {path} is not valid TOML: {exc}") from None
        entries = document.get("expected_failure", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError(f"baseline {path}: expected_failure must be tables, [[expected_failure]]")
        unknown = sorted(set(document) - {"expected_failure"})
        if unknown:
            raise ValueError(
                f"baseline {path}: unknown key {unknown[0]!r}{did_you_mean(unknown[0], ['expected_failure'])}"
                " (a baseline holds only [[expected_failure]] tables)"
            )
        expected: dict[str, str] = {}
        for index, entry in enumerate(entries):
            rid, why = entry.get("requirement"), entry.get("reason")
            if not isinstance(rid, str) or rid not in registry:
                raise ValueError(
                    f"baseline {path}: expected_failure[{index}].requirement {rid!r} is not registered"
                    + (did_you_mean(rid, registry) if isinstance(rid, str) else "")
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
        """The figures of every check of the requirement, key by key (:func:`aggregate`)."""
        return aggregate(self.checks)


MAX_DISTINCT = 6  # values of one figure listed in a requirement's row; the rest are counted


def aggregate(checks: Iterable[CheckResult]) -> dict[str, Any]:
    """One requirement's figures over all its checks, key by key, the worst verdict's first.

    A figure only one check measured, or that every check measured alike, keeps its value as the
    check gave it (a number stays a number: the JSON report's readers compare them), so the
    window of TOTP_WINDOW is its probe's "accepted -1…+1" although twelve scenarios judge it too,
    and a lifetime reads as its two sides, ``accepted_at_age`` and ``refused_at_age``. A figure
    the checks measured differently (one address vector per check) becomes the text of its
    distinct values with their counts, the failing checks' first: "refused: domain_blocked ×40;
    accepted ×1".
    """
    by_key: dict[str, dict[str, tuple[Any, int]]] = {}
    for check in sorted(checks, key=lambda c: -c.verdict.severity):
        for key, value in check.measured.items():
            seen = by_key.setdefault(key, {})
            token = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
            first, count = seen.get(token, (value, 0))
            seen[token] = (first, count + 1)
    figures: dict[str, Any] = {}
    for key, seen in by_key.items():
        values = list(seen.values())
        if len(values) == 1:
            figures[key] = values[0][0]
            continue
        shown = [f"{_plain(v)} ×{n}" for v, n in values[:MAX_DISTINCT]]
        if len(values) > MAX_DISTINCT:
            shown.append(f"{len(values) - MAX_DISTINCT} other values")
        figures[key] = "; ".join(shown)
    return figures


def _plain(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


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
