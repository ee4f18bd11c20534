"""Reading a run's JSON report in the tests: the rows its checks judged, and the others.

Every registered requirement has a row (ninsho.conformance.results.summarise); a row no check of
the run spoke for has no checks, a verdict of NOT_TESTABLE or SKIPPED, and a note saying why.
"""

from __future__ import annotations

from typing import Any

from ninsho.spec.registry import requirements

UNJUDGED_VERDICTS = {"NOT_TESTABLE", "SKIPPED"}


def judged(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows some check of the run judged, in the registry's order."""
    return [row for row in document["requirements"] if row["checks"]]


def unjudged(document: dict[str, Any]) -> dict[str, str]:
    """Requirement → verdict of the rows no check judged; each must say why (asserted here)."""
    rows = [row for row in document["requirements"] if not row["checks"]]
    for row in rows:
        assert row["verdict"] in UNJUDGED_VERDICTS and row["note"], row
    assert {r["id"] for r in document["requirements"]} == set(requirements()), "a requirement dropped out"
    return {row["id"]: row["verdict"] for row in rows}
