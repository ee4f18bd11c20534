"""Reports: the terminal table, JSON for machines, HTML for people, Markdown for CI, and the plan.

The words they share are :mod:`ninsho.conformance.report_text`; the HTML page is
:mod:`~ninsho.conformance.report_html`, the Markdown summary
:mod:`~ninsho.conformance.report_markdown`. JUnit XML is pytest's own (``--junitxml``): the
plugin names its suite ``ninsho``, adds the portal and the profile as suite properties, and each
check's requirement IDs and verdicts as ``<property>`` elements through ``user_properties``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ninsho.conformance import report_html, report_markdown
from ninsho.conformance import report_text as text
from ninsho.conformance.config import PortalConfig
from ninsho.conformance.naming import check_title
from ninsho.conformance.report_text import RunInfo
from ninsho.conformance.results import Summary
from ninsho.conformance.verdicts import CheckResult, Verdict
from ninsho.spec.registry import Requirement

__all__ = ["RunInfo", "as_document", "plan", "terminal_table", "write_html", "write_json", "write_markdown"]


def terminal_table(rows: list[Summary]) -> list[str]:
    """One line per requirement, attention first: ID, level, verdict, figures and the reason."""
    width = max(len(r.requirement.id) for r in rows)
    lines = []
    for row in text.ordered(rows):
        detail = "; ".join(t for t in (text.measured_text(row.measured), text.reason(row)) if t)
        lines.append(
            f"{row.requirement.id:<{width}}  {row.requirement.level:<6} {text.status(row):<14} {detail}"[:220]
        )
    lines.append(text.counts_text(rows))
    return lines


def failure_block(results: list[CheckResult], evidence: str | None) -> str:
    """What the terminal shows for a failed check instead of a traceback: per requirement it
    failed, the verdict, the figures and the one-line reason; then where its evidence is.
    ``--tb`` brings pytest's traceback back (hooks.py)."""
    lines = []
    for r in text.worst_first(results):
        if r.verdict is Verdict.PASS:
            continue
        figures = text.measured_text(r.measured)
        lines.append(f"{r.requirement} {r.verdict.value}" + (f": {figures}" if figures else ""))
        if r.reason:
            lines.append(f"  {text.check_reason(r)}")
    if results:
        where = (
            f"{evidence}#{text.anchor(results[0].check)}" if evidence else "the report (--ninsho-html FILE)"
        )
        lines.append(f"  evidence: {where} ({len(results[0].evidence)} lines; --tb=short for the traceback)")
    return "\n".join(lines)


def as_document(rows: list[Summary], run: RunInfo) -> dict[str, Any]:
    """The JSON report. ``requirements`` keeps one row per registered requirement with ``id``,
    ``verdict``, ``checks``, ``note`` and ``measured`` (now over all its checks); the run's
    facts, the counts and each check's readable ``title`` are additions."""
    config = run.config
    status, words = text.result(rows, strict=run.strict)
    return {
        "real_time": run.real_time,
        "tool": "ninsho",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": {**run.as_dict(), "exit_status": status, "result": words, "fault": run.fault},
        "counts": {v.value: n for v, n in text.counts(rows)},
        "portal": {
            "driver": config.driver,
            "base_url": config.base_url,
            "profile": config.profile,
            "clock": config.clock,
            "mailbox": config.mailbox,
        },
        "requirements": [
            {
                "id": row.requirement.id,
                "level": row.requirement.level,
                "statement": row.requirement.statement,
                "verdict": row.verdict.value,
                "expected_failure": row.expected_failure,
                "unexpected_pass": row.unexpected_pass,
                "measured": row.measured,
                "measured_text": text.measured_text(row.measured),
                "reason": text.reason(row),
                "note": row.note,
                "checks": [{**c.as_dict(), "anchor": text.anchor(c.check)} for c in row.checks],
            }
            for row in rows
        ],
    }


def write_json(path: Path, rows: list[Summary], run: RunInfo) -> None:
    """``run.real_time``: the waits of a real-time run (count, longest, sum, wall), else None."""
    _write(path, json.dumps(as_document(rows, run), ensure_ascii=False, indent=2, default=str))


def write_html(path: Path, rows: list[Summary], run: RunInfo) -> None:
    _write(path, report_html.render(rows, run))


def write_markdown(path: Path, rows: list[Summary], run: RunInfo) -> None:
    _write(path, report_markdown.render(rows, run))


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, "utf-8")


def plan(
    items: Iterable[pytest.Item], registry: dict[str, Requirement], config: PortalConfig, *, dry_run: bool
) -> list[str]:
    """``--ninsho-list``: checks by requirement. ``--ninsho-dry-run``: also the portal and the order."""
    items = list(items)
    lines: list[str] = []
    if dry_run:
        lines.append(
            f"portal: {config.base_url or 'embedded reference'} (driver {config.driver}, profile "
            f"{config.profile}, mailbox {config.mailbox}, clock {config.clock}; config from {config.source})"
        )
        lines.append(f"{len(items)} checks would run, in this order; nothing was sent to the portal:")
    by_requirement: dict[str, list[str]] = {}
    for item in items:
        rids = [m.name for m in item.iter_markers() if m.name in registry]
        if dry_run:
            lines.append(f"  {item.nodeid}  [{', '.join(dict.fromkeys(rids))}]  {check_title(item).text}")
        for rid in rids:
            by_requirement.setdefault(rid, []).append(item.nodeid)
    if not dry_run:
        for rid in registry:
            nodes = by_requirement.get(rid, [])
            lines.append(f"{rid} [{registry[rid].level}] {len(nodes)} check(s)")
            lines.extend(f"    {n}" for n in dict.fromkeys(nodes))
    return lines
