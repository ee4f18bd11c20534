"""Reports: the terminal table, JSON for machines, HTML for people, and the dry-run plan.

JUnit XML is pytest's own (``--junitxml``): the plugin adds each check's requirement IDs and
verdicts as ``<property>`` elements through ``user_properties``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.results import Summary
from ninsho.conformance.verdicts import Verdict
from ninsho.spec.registry import Requirement

_COLOUR = {
    Verdict.PASS: "#1a7f37",
    Verdict.WARN: "#9a6700",
    Verdict.NOT_APPLICABLE: "#57606a",
    Verdict.NOT_TESTABLE: "#57606a",
    Verdict.SKIPPED: "#57606a",
    Verdict.INCONCLUSIVE: "#8250df",
    Verdict.FAIL: "#cf222e",
    Verdict.ERROR: "#a40e26",
}


def _status(row: Summary) -> str:
    if row.unexpected_pass:
        return "PASS (unexpected: listed in the baseline)"
    if row.expected_failure and row.verdict in (Verdict.FAIL, Verdict.WARN):
        return f"{row.verdict.value} (expected: {row.expected_failure})"
    return row.verdict.value


def _measured_text(row: Summary) -> str:
    return ", ".join(f"{k}: {v}" for k, v in row.measured.items())


def _counts(rows: list[Summary]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.verdict.value] = counts.get(row.verdict.value, 0) + 1
    return "requirements: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))


def _attention(rows: list[Summary]) -> str:
    quiet = (Verdict.PASS, Verdict.NOT_TESTABLE)
    flagged = [r.requirement.id for r in rows if r.verdict not in quiet or r.unexpected_pass]
    return f" · needs attention: {', '.join(flagged)}" if flagged else ""


def terminal_table(rows: list[Summary]) -> list[str]:
    width = max(len(r.requirement.id) for r in rows)
    lines = []
    for row in rows:
        reason = next((c.reason for c in row.checks if c.verdict is row.verdict and c.reason), row.note)
        detail = "; ".join(t for t in (_measured_text(row), reason.splitlines()[0] if reason else "") if t)
        lines.append(
            f"{row.requirement.id:<{width}}  {row.requirement.level:<6} {_status(row):<14} {detail}"[:220]
        )
    lines.append(_counts(rows))
    return lines


def as_document(
    rows: list[Summary], config: PortalConfig, real_time: dict[str, float] | None = None
) -> dict[str, Any]:
    return {
        "real_time": real_time,
        "tool": "ninsho",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
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
                "note": row.note,
                "checks": [c.as_dict() for c in row.checks],
            }
            for row in rows
        ],
    }


def write_json(
    path: Path, rows: list[Summary], config: PortalConfig, real_time: dict[str, float] | None = None
) -> None:
    """``real_time``: the waits of a real-time run (count, longest, sum, wall), else None."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(as_document(rows, config, real_time), ensure_ascii=False, indent=2, default=str), "utf-8"
    )


def write_html(path: Path, rows: list[Summary], config: PortalConfig) -> None:
    """A single self-contained page: one row per requirement, evidence folded under it."""
    e = html.escape
    body = []
    for row in rows:
        colour = _COLOUR[row.verdict]
        checks = (
            "".join(
                f"<details><summary>{e(c.check)}: <b>{e(c.verdict.value)}</b> {e(c.reason[:300])}</summary>"
                f"<p>{e(', '.join(f'{k}: {v}' for k, v in c.measured.items()))}</p>"
                f"<pre>{e(chr(10).join(c.evidence))}</pre></details>"
                for c in row.checks
            )
            or f"<small>{e(row.note)}</small>"
        )
        body.append(
            f"<tr><td><code>{e(row.requirement.id)}</code><br><small>{e(row.requirement.statement)}</small></td>"
            f"<td>{e(row.requirement.level)}</td>"
            f"<td style='color:{colour};font-weight:bold'>{e(_status(row))}</td>"
            f"<td>{e(_measured_text(row))}</td><td>{checks}</td></tr>"
        )
    portal = e(config.base_url or "embedded reference")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ninsho conformance report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #d0d7de;padding:.4em;vertical-align:top}}pre{{white-space:pre-wrap;font-size:.8em}}</style>
</head><body><h1>Ninsho conformance report</h1>
<p>Portal: {portal} · driver {e(config.driver)} · profile {e(config.profile)} · clock {e(config.clock)}</p>
<p><b>{e(_counts(rows))}</b>{e(_attention(rows))}</p>
<table><tr><th>Requirement</th><th>Level</th><th>Verdict</th><th>Measured</th><th>Checks and evidence</th></tr>
{"".join(body)}
</table></body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, "utf-8")


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
            doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip().splitlines()
            lines.append(f"  {item.nodeid}  [{', '.join(dict.fromkeys(rids))}]  {doc[0] if doc else ''}")
        for rid in rids:
            by_requirement.setdefault(rid, []).append(item.nodeid)
    if not dry_run:
        for rid in registry:
            nodes = by_requirement.get(rid, [])
            lines.append(f"{rid} [{registry[rid].level}] {len(nodes)} check(s)")
            lines.extend(f"    {n}" for n in dict.fromkeys(nodes))
    return lines
