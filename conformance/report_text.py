"""The words every report shares: the run's facts, the order of the rows, and how a figure reads.

The terminal table, the JSON, the HTML page and the Markdown summary say the same things; this
module says them once. A QA lead reads the top of a report first, so every report begins with
the verdict counts and the facts of the run (portal, profile, driver, clock, start, duration,
the harness's and the spec's versions), and lists the rows that need attention first: FAIL,
then ERROR, INCONCLUSIVE and WARN, PASS last.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import ninsho
from ninsho.conformance.config import PortalConfig
from ninsho.conformance.results import EXIT_ERROR, EXIT_FAIL, EXIT_OK, EXIT_STRICT, Summary, exit_status
from ninsho.conformance.verdicts import CheckResult, Verdict

# The order of the rows and of the counts: what needs attention first, PASS last.
ORDER = (
    Verdict.FAIL,
    Verdict.ERROR,
    Verdict.INCONCLUSIVE,
    Verdict.WARN,
    Verdict.SKIPPED,
    Verdict.NOT_APPLICABLE,
    Verdict.NOT_TESTABLE,
    Verdict.PASS,
)
QUIET = (Verdict.PASS, Verdict.NOT_TESTABLE)  # rows that need nobody's attention

# How a figure reads in a sentence ({} is its value); a figure not listed reads "key: value".
PHRASES = {
    "window": "{}",
    "profile_window": "profile {}",
    "submissions": "{} submissions",
    "concurrent_accepted": "{} accepted",
    "concurrent_server_errors": "{} server errors",
    "accepted_at_age": "accepted at age {}",
    "refused_at_age": "refused at age {}",
    "threshold": "locked after {} failures",
    "after_threshold": "after the threshold: {}",
    "answer": "{}",
    "uri_parameters": "{}",
    "secret_bits": "{}-bit secret",
    "shown_address": "shown as {}",
    "offered_email_only": "offered {} (email only)",
    "offered_both": "offered {} (email and app)",
    "manual_key_length": "manual key of {} characters",
}
# The figures that say most come first in a row: the measurement, then its context.
FIRST = (
    "window",
    "concurrent_accepted",
    "accepted_at_age",
    "refused_at_age",
    "threshold",
    "answer",
    "profile_window",
)
_SAME_ENDS = re.compile(r"(-?\d+(?:\.\d+)?)…\1 s\b")  # a span of no width: "599.0…599.0 s"

RESULTS = {
    EXIT_OK: "conformant",
    EXIT_FAIL: "not conformant",
    EXIT_ERROR: "not judged: the harness or the portal failed",
    EXIT_STRICT: "gaps under --strict",
}


@cache
def spec_version() -> str:
    """The registry's ``version`` and the first digits of its SHA-256, which changes with any
    edit: two reports with the same version but different digits judged different registries."""
    data = files("ninsho.spec").joinpath("requirements.toml").read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:12]
    match = re.search(rb'^version\s*=\s*"([^"]+)"', data, re.MULTILINE)
    return f"{match.group(1).decode()} (registry {digest})" if match else f"registry {digest}"


@dataclass(frozen=True)
class RunInfo:
    """The facts of one run that head every report."""

    config: PortalConfig
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_seconds: float = 0.0
    strict: bool = False
    real_time: dict[str, float] | None = None
    html_report: str | None = None  # where the evidence is, for the terminal and the Markdown
    fault: str | None = None  # --ninsho-fault: the embedded reference with a deliberate fault
    harness_version: str = ninsho.__version__
    spec: str = field(default_factory=spec_version)

    @property
    def portal(self) -> str:
        return self.config.base_url or "the embedded reference"

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) pairs, in the order a report shows them."""
        c = self.config
        portal = self.portal + (f", with the deliberate fault {self.fault}" if self.fault else "")
        return [
            ("Portal", portal),
            ("Profile", c.profile),
            ("Driver", c.driver),
            ("Clock", c.clock),
            ("Mailbox", c.mailbox),
            ("Started", self.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
            ("Duration", duration_text(self.duration_seconds)),
            ("Harness", f"ninsho {self.harness_version}"),
            ("Spec", self.spec),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.astimezone(UTC).isoformat(timespec="seconds"),
            "duration_seconds": round(self.duration_seconds, 3),
            "harness_version": self.harness_version,
            "spec_version": self.spec,
            "strict": self.strict,
        }


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def ordered(rows: list[Summary]) -> list[Summary]:
    """Attention first (ORDER), the registry's order within a verdict; an unexpected pass of a
    baselined requirement counts as a FAIL, a baselined failure after the failures that count."""

    def rank(row: Summary) -> tuple[int, int]:
        verdict = Verdict.FAIL if row.unexpected_pass else row.verdict
        expected = bool(row.expected_failure) and row.verdict in (Verdict.FAIL, Verdict.WARN)
        return (ORDER.index(verdict), int(expected))

    return sorted(rows, key=rank)  # sorted() is stable: the registry's order stays within a rank


def counts(rows: list[Summary]) -> list[tuple[Verdict, int]]:
    """(verdict, number of requirements) in ORDER, verdicts that no row has left out."""
    found = [row.verdict for row in rows]
    return [(v, found.count(v)) for v in ORDER if v in found]


def counts_text(rows: list[Summary]) -> str:
    return "requirements: " + ", ".join(f"{n} {v.value}" for v, n in counts(rows))


def attention(rows: list[Summary]) -> list[Summary]:
    """The rows someone must look at, in ORDER."""
    return [r for r in ordered(rows) if r.verdict not in QUIET or r.unexpected_pass]


def result(rows: list[Summary], *, strict: bool) -> tuple[int, str]:
    """The run's exit status and its words ("not conformant")."""
    status = exit_status(rows, strict=strict)
    return status, RESULTS.get(status, f"exit {status}")


def status(row: Summary) -> str:
    """A row's verdict as shown: the baseline's say included."""
    if row.unexpected_pass:
        return "PASS (unexpected: listed in the baseline)"
    if row.expected_failure and row.verdict in (Verdict.FAIL, Verdict.WARN):
        return f"{row.verdict.value} (expected: {row.expected_failure})"
    return row.verdict.value


def phrase(key: str, value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    text = _SAME_ENDS.sub(r"\1 s", text)
    template = PHRASES.get(key)
    return template.format(text) if template else f"{key}: {text}"


def measured_text(measured: dict[str, Any]) -> str:
    """A row's or a check's figures in words: "accepted -3…+3 · profile -1…+1 · 11 submissions"."""
    keys = sorted(measured, key=lambda k: FIRST.index(k) if k in FIRST else len(FIRST))
    return " · ".join(phrase(k, measured[k]) for k in keys)


def reason(row: Summary) -> str:
    """The one line that says why a row has its verdict: the reason of a check with that verdict,
    one that measured something first (a probe says "accepted -3…+3, but the profile allows
    only [-1, 0, 1]"; a scenario, one of its steps), else the row's note."""
    judged = [c for c in row.checks if c.verdict is row.verdict and c.reason]
    for check in sorted(judged, key=lambda c: not c.measured):
        return check_reason(check)
    return first_line(row.note)


def check_reason(check: CheckResult) -> str:
    """A check's reason as one line, without the ``[ID]`` the row already shows."""
    return first_line(check.reason).removeprefix(f"[{check.requirement}] ")


def worst_first(checks: list[CheckResult]) -> list[CheckResult]:
    """Attention first (ORDER); within a verdict, the checks that measured something (a probe's
    figures explain a FAIL better than a scenario's step)."""
    return sorted(checks, key=lambda c: (ORDER.index(c.verdict), not c.measured))


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def anchor(check: str) -> str:
    """The HTML id of a check's evidence, stable across runs for the same node ID."""
    return "c-" + hashlib.sha1(check.encode("utf-8")).hexdigest()[:10]


def row_anchor(requirement_id: str) -> str:
    return "r-" + requirement_id
