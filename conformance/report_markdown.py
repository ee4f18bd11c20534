"""The Markdown summary (``ninsho.md``): for a CI job's summary page or a merge-request comment.

GitHub (``$GITHUB_STEP_SUMMARY``) and GitLab (a note posted by the job) render it as it is. It
says what a reviewer needs before they open the HTML report: the result and the counts, the
run's facts, every row that needs attention with its figures and the one-line reason, and the
rest folded away. Table cells hold one line each; HTML is escaped, since both render it.
"""

from __future__ import annotations

from html import escape

from ninsho.conformance import report_text as text
from ninsho.conformance.report_text import RunInfo
from ninsho.conformance.results import Summary
from ninsho.conformance.verdicts import Verdict

MAX_CELL = 240
MARK = {0: "✅", 1: "❌", 6: "⚠️", 7: "⚠️"}


def cell(value: str) -> str:
    """One table cell: one line, no pipe that would split it, no HTML, at most MAX_CELL long."""
    line = " ".join(value.split())
    if len(line) > MAX_CELL:
        line = line[: MAX_CELL - 1] + "…"
    return escape(line, quote=False).replace("|", "\\|")


def render(rows: list[Summary], run: RunInfo) -> str:
    status, words = text.result(rows, strict=run.strict)
    counts = " · ".join(f"{n} {v.value}" for v, n in text.counts(rows))
    lines = [
        f"## {MARK.get(status, '⚠️')} Ninsho: {words}",
        "",
        f"**{counts}** (requirements; exit status {status})",
        "",
        " · ".join(f"**{k}** {cell(v)}" for k, v in run.facts()),
        "",
    ]
    flagged = text.attention(rows)
    if flagged:
        lines += [
            "| requirement | level | verdict | measured | why |",
            "|---|---|---|---|---|",
        ]
        for row in flagged:
            lines.append(
                f"| `{row.requirement.id}` | {row.requirement.level} | **{cell(text.status(row))}** "
                f"| {cell(text.measured_text(row.measured))} | {cell(text.reason(row))} |"
            )
        lines.append("")
    else:
        lines += ["Every requirement a run can judge passed.", ""]
    quiet = [r for r in text.ordered(rows) if r not in flagged]
    if quiet:
        tally = ", ".join(
            f"{n} {v.value}" for v, n in text.counts(quiet) if v in (Verdict.PASS, Verdict.NOT_TESTABLE)
        )
        lines += [
            f"<details><summary>The other requirements ({tally})</summary>",
            "",
            "| requirement | verdict | measured, or why |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{r.requirement.id}` | {cell(text.status(r))} | {cell(text.measured_text(r.measured) or text.reason(r))} |"
            for r in quiet
        ]
        lines += ["", "</details>", ""]
    where = f"`{run.html_report}`" if run.html_report else "the HTML report"
    lines.append(f"The evidence of every check, each exchange at its time, is in {where}.")
    return "\n".join(lines) + "\n"
