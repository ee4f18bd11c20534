"""The HTML report: one self-contained page a QA lead reads in a minute, and prints.

The old page put every figure under its check only, so the Measured column was empty in every
row of a requirement with several checks; it ran to 17,000 px of collapsed evidence, its table
was 1,800 px wide at 1280 px (cut off, or a sideways scroll), and its rows were node IDs with
escaped Unicode. This page: the verdict counts and the run's facts at the top, the rows that need
attention first and linked from there, each row's figures over all its checks, each check by its
readable name, the evidence of a FAIL or an ERROR open, every line of evidence at its time on the
portal's clock, moves of the clock marked. It fits 1280 px with no sideways scroll (a fixed table
layout, text that wraps anywhere; tests/harness/test_report_browser.py measures it in Chromium)
and prints on A4 (the evidence of closed checks stays closed, open evidence is printed whole).
"""

from __future__ import annotations

import re
from html import escape

from ninsho.conformance import report_text as text
from ninsho.conformance.report_text import RunInfo
from ninsho.conformance.results import Summary
from ninsho.conformance.transcript import STAMP
from ninsho.conformance.verdicts import CheckResult, Verdict

OPEN = (Verdict.FAIL, Verdict.ERROR)  # the verdicts whose evidence a reader needs at once
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
_CLOCK_LINE = re.compile(r"^clock: ")

STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK JP",sans-serif;
 color:#1f2328;margin:0 auto;padding:16px 20px;max-width:1400px}
h1{font-size:22px;margin:0 0 8px}
.result{display:inline-block;font-size:15px;padding:2px 10px;border-radius:12px;color:#fff;vertical-align:middle}
.counts{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:6px}
.counts li{border:2px solid currentColor;border-radius:6px;padding:2px 10px;font-weight:600}
.counts a{color:inherit;text-decoration:none}
.facts{display:flex;flex-wrap:wrap;gap:2px 24px;margin:8px 0}
.facts div{display:flex;gap:6px;min-width:0;max-width:100%}.facts dt{color:#57606a}.facts dt::after{content:":"}
.facts dd{margin:0;overflow-wrap:anywhere;min-width:0}
.attention{margin:8px 0 12px}
table{border-collapse:collapse;width:100%;table-layout:fixed}
col.c-req{width:29%}col.c-verdict{width:13%}col.c-measured{width:58%}
th,td{border:1px solid #d0d7de;padding:6px 8px;vertical-align:top;text-align:left;overflow-wrap:anywhere}
th{background:#f6f8fa}
tr.attn td{background:#fffbea}tr.open td{background:#fff5f5}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Noto Sans Mono CJK JP",monospace}
.rid{font-weight:600}.level{color:#57606a;font-size:12px;margin-left:4px}
.stmt{margin:2px 0 0;font-size:13px;color:#424a53}
.verdict{font-weight:700;overflow-wrap:break-word}
.measured{margin:0;font-weight:600}.why{margin:2px 0;font-size:13.5px}
details>summary{cursor:pointer}
.checks{margin-top:4px;font-size:13.5px}
.checks ol{margin:4px 0;padding-left:20px}
.checks li{margin:2px 0}
.cv{font-weight:700}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;background:#f6f8fa;border:1px solid #d0d7de;
 padding:6px;margin:4px 0;max-height:28em;overflow-y:auto;overflow-x:hidden}
pre .t{color:#57606a}pre .clk{color:#8250df;font-weight:600}
.note{color:#57606a;font-size:13px}
footer{margin-top:12px;color:#57606a;font-size:13px}
@media print{
 @page{size:A4;margin:12mm}
 body{font-size:10.5pt;padding:0;max-width:none}
 a{color:inherit;text-decoration:none}
 pre{max-height:none;overflow:visible;font-size:8pt}
 thead{display:table-header-group}
 tr{break-inside:avoid-page}
 tr.open{break-inside:auto}
 tr.attn td,tr.open td{background:none}
 .result,.counts li,.verdict,.cv{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""


def render(rows: list[Summary], run: RunInfo) -> str:
    """The whole page."""
    e = escape
    status, words = text.result(rows, strict=run.strict)
    colour = "#1a7f37" if status == 0 else _COLOUR[Verdict.FAIL if status == 1 else Verdict.ERROR]
    counts = "".join(
        f"<li style='color:{_COLOUR[v]}'><a href='#v-{v.value}'>{n} {e(v.value)}</a></li>"
        for v, n in text.counts(rows)
    )
    facts = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in run.facts())
    flagged = text.attention(rows)
    attention = (
        "Needs attention: "
        + ", ".join(
            f"<a href='#{text.row_anchor(r.requirement.id)}'>{e(r.requirement.id)}</a> ({e(text.status(r))})"
            for r in flagged
        )
        if flagged
        else "Nothing needs attention: every requirement a run can judge passed."
    )
    body = []
    first_of: set[Verdict] = set()
    for row in text.ordered(rows):
        marker = ""
        if row.verdict not in first_of:
            first_of.add(row.verdict)
            marker = f" data-first='{row.verdict.value}'"
        body.append(_row(row, marker))
    title = f"Ninsho: {words} · {text.counts_text(rows)} · {run.portal}"
    real_time = ""
    if run.real_time:
        rt = run.real_time
        real_time = (
            f"<p class='note'>Real time: {int(rt['waits'])} waits, the longest {rt['longest_seconds']:.0f} s,"
            f" {rt['sum_seconds']:.0f} s in all, run concurrently in {rt['wall_seconds']:.0f} s of wall time.</p>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{e(title)}</title><style>{STYLE}</style></head><body>
<header>
<h1>Ninsho conformance report <span class="result" style="background:{colour}">{e(words)}</span></h1>
<ul class="counts">{counts}</ul>
<dl class="facts">{facts}</dl>
<p class="attention">{attention}</p>{real_time}
</header>
<main>
<table class="reqs"><colgroup><col class="c-req"><col class="c-verdict"><col class="c-measured"></colgroup>
<thead><tr><th>Requirement</th><th>Verdict</th><th>Measured · why · checks and evidence</th></tr></thead>
<tbody>
{"".join(body)}
</tbody></table>
</main>
<footer>Codes, secrets, passwords and tokens are redacted from the evidence. Times are the portal's clock:
the time since the check's first line, and the time of day (UTC). Exit status {status}.</footer>
</body></html>
"""


def _row(row: Summary, marker: str) -> str:
    e = escape
    req = row.requirement
    verdict = Verdict.FAIL if row.unexpected_pass else row.verdict
    expected = bool(row.expected_failure) and row.verdict in (Verdict.FAIL, Verdict.WARN)
    needs = (verdict not in text.QUIET) and not expected
    opened = verdict in OPEN and not expected
    classes = " ".join(
        c for c in (f"v-{row.verdict.value}", "attn" if needs else "", "open" if opened else "") if c
    )
    anchor = f" id='v-{row.verdict.value}'" if marker else ""
    measured = text.measured_text(row.measured)
    why = text.reason(row)
    cells = [f"<p class='measured'>{e(measured)}</p>" if measured else ""]
    if not row.checks:
        cells.append(f"<p class='why'>{e(row.note)}</p>")
    else:
        if why and row.verdict is not Verdict.PASS:
            cells.append(f"<p class='why'>{e(why)}</p>")
        cells.append(_checks(row, opened))
    return (
        f"<tr id='{text.row_anchor(req.id)}' class='{classes}'{marker}>"
        f"<td><span{anchor}></span><code class='rid'>{e(req.id)}</code><span class='level'>{e(req.level)}</span>"
        f"<p class='stmt'>{e(req.statement)}</p></td>"
        f"<td class='verdict' style='color:{_COLOUR[verdict]}'>{e(text.status(row)).replace('_', '_<wbr>')}</td>"
        f"<td>{''.join(cells)}</td></tr>\n"
    )


def _checks(row: Summary, opened: bool) -> str:
    found = [c.verdict for c in row.checks]
    tally = ", ".join(f"{found.count(v)} {v.value}" for v in text.ORDER if v in found)
    noun = "check" if len(row.checks) == 1 else "checks"
    items = "".join(_check(c) for c in text.worst_first(row.checks))
    return (
        f"<details class='checks'{' open' if opened else ''}><summary>{len(row.checks)} {noun}: {escape(tally)}"
        f"</summary><ol>{items}</ol></details>"
    )


def _check(check: CheckResult) -> str:
    e = escape
    opened = check.verdict in OPEN and not check.expected_failure
    lang = f" lang='{e(check.language)}'" if check.language and check.language != "en" else ""
    title = check.title or check.check
    why = (
        f"<p class='why'>{e(check.reason.removeprefix(f'[{check.requirement}] '))}</p>"
        if check.reason
        else ""
    )
    measured = text.measured_text(check.measured)
    figures = f"<p class='measured'>{e(measured)}</p>" if measured else ""
    evidence = "\n".join(_evidence_line(line) for line in check.evidence) or "(no exchange recorded)"
    return (
        f"<li id='{text.anchor(check.check)}'><details{' open' if opened else ''}><summary>"
        f"<span class='cv' style='color:{_COLOUR[check.verdict]}'>{e(check.verdict.value)}</span> "
        f"<span{lang}>{e(title)}</span></summary>{why}{figures}"
        f"<p class='note'><code>{e(check.check)}</code></p><pre>{evidence}</pre></details></li>"
    )


def _evidence_line(line: str) -> str:
    stamp = STAMP.match(line)
    rest = line[stamp.end() :] if stamp else line
    head = f"<span class='t'>{escape(stamp.group(0))}</span>" if stamp else ""
    if _CLOCK_LINE.match(rest):
        return f"{head}<span class='clk'>{escape(rest)}</span>"
    return head + escape(rest)
