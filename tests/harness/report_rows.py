"""Reading a run's JSON report in the tests: the rows its checks judged, and the others.

Every registered requirement has a row (ninsho.conformance.results.summarise); a row no check of
the run spoke for has no checks, a verdict of NOT_TESTABLE or SKIPPED, and a note saying why.
"""

from __future__ import annotations

from typing import Any

from ninsho.spec.registry import load_profile, requirements

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


def ruled_out_by(profile: str) -> dict[str, str]:
    """Requirement → the reason the profile makes it NOT_APPLICABLE (registry ``applies_when``,
    protocol.md §19.1): the reset link's under a code profile, the code screen's under a link one."""
    loaded = load_profile(profile)
    reasons = {rid: r.inapplicable(loaded) for rid, r in requirements().items()}
    return {rid: why for rid, why in reasons.items() if why is not None}


def broken(verdicts: dict[str, str]) -> set[str]:
    """The requirements a run found broken: a MUST that FAILed, or a SHOULD or MAY that WARNed
    (a check's failed assertion on a requirement below MUST reads WARN, conformance/verdicts.py)."""
    registry = requirements()
    return {
        rid
        for rid, verdict in verdicts.items()
        if verdict == ("FAIL" if rid not in registry or registry[rid].level == "MUST" else "WARN")
    }


def status_when_broken(requirement_ids: tuple[str, ...]) -> int:
    """The exit status of a run that breaks exactly these: 1 (FAIL) when one is a MUST, else 0
    (a WARN does not fail a run)."""
    registry = requirements()
    return 1 if any(registry[rid].level == "MUST" for rid in requirement_ids) else 0
