"""The reports a QA lead and a CI job read: figures over all of a requirement's checks, attention
first, readable check names, evidence at its time with the clock's moves, redaction of secrets
and of nothing else, and the Markdown summary. One real run with a fault feeds most of them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ninsho.conformance.report_text import ORDER, measured_text, ordered
from ninsho.conformance.results import Baseline, aggregate, summarise
from ninsho.conformance.transcript import STAMP, redact
from ninsho.conformance.verdicts import CheckResult, Verdict
from ninsho.spec.registry import requirements

CHECKS = ["--pyargs", "ninsho.conformance.checks", "-p", "no:cacheprovider", "-q"]
SELECTION = "TOTP_WINDOW or TOTP_REPLAY or EMAIL_OTP_LIFETIME or EMAIL_BLOCKED_DOMAIN or LOGOUT"


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of a few requirements against the wide-window fault, with every report."""
    folder = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as patch:  # away from this repository's pytest config, as pytester
        patch.chdir(folder)
        status = run_once(folder)
    assert status == 1
    return {
        "json": json.loads((folder / "ninsho.json").read_text("utf-8")),
        "html": (folder / "ninsho.html").read_text("utf-8"),
        "md": (folder / "ninsho.md").read_text("utf-8"),
        "junit": (folder / "junit.xml").read_text("utf-8"),
    }


def run_once(folder: Path) -> int | pytest.ExitCode:
    """In process, as pytester would, but once for the module."""
    return pytest.main(
        [
            *CHECKS,
            "--noconftest",
            "-m",
            SELECTION,
            "--ninsho-fault=wide-window",
            f"--ninsho-json={folder / 'ninsho.json'}",
            f"--ninsho-html={folder / 'ninsho.html'}",
            f"--ninsho-md={folder / 'ninsho.md'}",
            f"--junitxml={folder / 'junit.xml'}",
            f"--rootdir={folder}",
            "--disable-plugin-autoload",
            "-p",
            "ninsho-harness",
            "-p",
            "pytest-bdd",
        ]
    )


def row(document: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(r for r in document["requirements"] if r["id"] == rid)


def check_of(document: dict[str, Any], rid: str, name: str) -> dict[str, Any]:
    return next(c for c in row(document, rid)["checks"] if c["check"].endswith(name))


# --- figures over every check ----------------------------------------------------------------
def test_a_requirement_with_many_checks_shows_its_probes_figures(fault_run: dict[str, Any]) -> None:
    window = row(fault_run["json"], "TOTP_WINDOW")
    assert len(window["checks"]) > 1, "TOTP_WINDOW should be judged by the probe and the scenarios"
    assert window["measured"]["window"] == "accepted -3…+3"
    assert window["measured"]["profile_window"] == "-1…+1"
    lifetime = row(fault_run["json"], "EMAIL_OTP_LIFETIME")["measured"]
    assert lifetime["accepted_at_age"].startswith("599.0") and lifetime["refused_at_age"].startswith("601.0")
    assert row(fault_run["json"], "TOTP_REPLAY")["measured"]["concurrent_accepted"] == "1 of 8"
    assert "1 of 8 accepted" in row(fault_run["json"], "TOTP_REPLAY")["measured_text"]


def test_figures_that_differ_between_checks_are_counted_the_worst_first() -> None:
    def result(verdict: Verdict, answer: str) -> CheckResult:
        return CheckResult("EMAIL_BLOCKED_DOMAIN", verdict, f"c{answer}", measured={"answer": answer, "n": 3})

    checks = [result(Verdict.PASS, "refused: blocked")] * 3 + [result(Verdict.FAIL, "accepted")]
    figures = aggregate(checks)
    assert figures == {"answer": "accepted ×1; refused: blocked ×3", "n": 3}
    assert aggregate([result(Verdict.PASS, "x")]) == {"answer": "x", "n": 3}, "one check: its own values"


def test_a_span_of_no_width_reads_as_one_age() -> None:
    assert measured_text({"refused_at_age": "601.0…601.0 s"}) == "refused at age 601.0 s"
    assert measured_text({"accepted_at_age": "598.2…599.9 s"}) == "accepted at age 598.2…599.9 s"


# --- attention first -------------------------------------------------------------------------
def test_rows_come_fail_first_then_error_inconclusive_warn_and_pass_last() -> None:
    registry = requirements()
    ids = list(registry)
    verdicts = [Verdict.PASS, Verdict.WARN, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.ERROR, Verdict.PASS]
    results = [CheckResult(rid, v, f"check-{rid}") for rid, v in zip(ids, verdicts, strict=False)]
    rows = [r for r in ordered(summarise(results, registry, Baseline())) if r.checks]
    assert [r.verdict for r in rows] == [
        Verdict.FAIL,
        Verdict.ERROR,
        Verdict.INCONCLUSIVE,
        Verdict.WARN,
        Verdict.PASS,
        Verdict.PASS,
    ]
    assert ORDER[0] is Verdict.FAIL and ORDER[-1] is Verdict.PASS


def test_the_html_report_leads_with_the_run_and_the_fail(fault_run: dict[str, Any]) -> None:
    page = fault_run["html"]
    head = page[: page.index("<table")]
    for fact in (
        "Portal",
        "Profile",
        "Driver",
        "Clock",
        "Started",
        "Duration",
        "ninsho ",
        "Spec",
        "0.1 (registry",
    ):
        assert fact in head, fact
    assert "1 FAIL" in head
    assert "<a href='#r-TOTP_WINDOW'>TOTP_WINDOW</a>" in head, "needs attention must link to the row"
    first_row = re.search(r"<tr id='r-([A-Z_]+)'", page)
    assert first_row is not None and first_row.group(1) == "TOTP_WINDOW"
    fail_row = page[
        page.index("<tr id='r-TOTP_WINDOW'") : page.index("</tr>", page.index("<tr id='r-TOTP_WINDOW'"))
    ]
    assert "accepted -3…+3" in fail_row
    assert "<details class='checks' open>" in fail_row and "<details open>" in fail_row, "FAIL evidence opens"
    pass_row = page[page.index("<tr id='r-LOGOUT'") :]
    assert "<details class='checks'>" in pass_row[: pass_row.index("</tr>")], "PASS evidence stays closed"
    summaries = " ".join(re.findall(r"<summary>(.*?)</summary>", page))
    assert "taro@ｋｙｏｔｏ－ｕ.ac.jp" in summaries and "\\uff4b" not in summaries, (
        "pytest's escapes in a name"
    )


def test_checks_have_readable_names(fault_run: dict[str, Any]) -> None:
    titles = {c["title"] for r in fault_run["json"]["requirements"] for c in r["checks"]}
    assert "A code from a clock -2 time steps off is accepted only inside the window" in titles
    assert any(t.startswith("時計が -2 ステップずれた") for t in titles), "the Japanese scenario, in Japanese"
    assert any("taro@ｋｙｏｔｏ－ｕ.ac.jp" in t for t in titles), "a vector's address, unescaped"
    probe = check_of(fault_run["json"], "TOTP_WINDOW", "test_totp_window")
    assert probe["title"].startswith("Measure the accepted step offsets")
    assert not any("\\uff" in t or t.startswith("test_") for t in titles)


# --- evidence in time ------------------------------------------------------------------------
def test_evidence_shows_the_clock_moving_past_the_lifetime(fault_run: dict[str, Any]) -> None:
    lines = check_of(fault_run["json"], "EMAIL_OTP_LIFETIME", "test_email_code_refused_just_after_lifetime")[
        "evidence"
    ]
    assert all(STAMP.match(line) for line in lines), lines
    moved = "clock: the virtual clock moves 601.0 s forward for the email code lifetime"
    assert any(moved in line for line in lines), lines
    submitted = next(line for line in lines if "submit_email_code" in line)
    assert submitted.startswith("[+601.0 s | "), submitted
    assert "the check began at 2023-11-14 22:13:20 UTC" in lines[0]


def test_totp_submissions_carry_their_step_offset(fault_run: dict[str, Any]) -> None:
    lines = check_of(fault_run["json"], "TOTP_WINDOW", "test_totp_window")["evidence"]
    offsets = [
        m.group(1)
        for line in lines
        if (m := re.search(r"submit_app_code code=\*\*\* \(TOTP step ([+-]\d+)\)", line))
    ]
    assert {"-4", "-1", "+0", "+1", "+3", "+4"} <= set(offsets), offsets


def test_no_timestamp_is_redacted_as_a_code(fault_run: dict[str, Any]) -> None:
    text = json.dumps(fault_run["json"], ensure_ascii=False)
    assert not re.search(r"#{10}\.\d", text), "a timestamp was redacted as if it were a code"


@pytest.mark.parametrize(
    ("line", "hidden", "kept"),
    [
        ("no mail since 1700000600.0 within 30 s", [], ["1700000600.0"]),
        ("body: One-Time Password: 12345678 ⏎", ["12345678"], ["One-Time Password: ########"]),
        ('{"manual_key": "JBSW Y3DP EHPK 3PXP"}', ["JBSW", "3PXP"], ["manual_key"]),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=u", ["JBSWY3DPEHPK3PXP"], ["issuer=u"]),
        ("Authorization: Bearer abc.def-123", ["abc.def-123"], ["Authorization"]),
        ('{"trust_token": "tt-99x", "session": "s-1"}', ["tt-99x", "s-1"], ["trust_token"]),
        ('{"trust_token": null, "code": "######"}', [], ['"trust_token": null']),
        ("login login_id=a0123456 password=hunter2", ["hunter2"], ["a0123456"]),
        (
            "[+601.0 s | 22:23:21] at 2026-12-01 port 2525 phone 075-753-7840",
            [],
            ["601.0", "2525", "075-753-7840"],
        ),
    ],
)
def test_redaction_hides_codes_secrets_passwords_and_tokens_only(
    line: str, hidden: list[str], kept: list[str]
) -> None:
    redacted = redact(line)
    for secret in hidden:
        assert secret not in redacted, redacted
    for plain in kept:
        assert plain in redacted, redacted


# --- Markdown and JUnit ----------------------------------------------------------------------
def test_the_markdown_summary_fits_a_ci_page(fault_run: dict[str, Any]) -> None:
    md = fault_run["md"]
    assert md.startswith("## ❌ Ninsho: not conformant")
    fail = next(line for line in md.splitlines() if line.startswith("| `TOTP_WINDOW`"))
    cells = fail.split(" | ")
    assert len(cells) == 5 and "**FAIL**" in cells[2] and "accepted -3…+3" in cells[3], fail
    assert "<details>" in md and "</details>" in md
    assert all(line.count("|") - line.count("\\|") in (0, 4, 6) for line in md.splitlines()), "a cell split"


def test_junit_names_its_suite_ninsho_with_the_portal_and_profile(fault_run: dict[str, Any]) -> None:
    junit = fault_run["junit"]
    assert 'testsuite name="ninsho"' in junit
    assert '<property name="portal" value="the embedded reference" />' in junit
    assert '<property name="profile" value="iimc" />' in junit


def test_a_run_that_did_not_start_says_so_in_markdown(pytester: pytest.Pytester) -> None:
    md = Path(pytester.path) / "ninsho.md"
    result = pytester.runpytest(*CHECKS, "--ninsho-profile", "iimcc", "--ninsho-md", str(md))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "did not start" in md.read_text("utf-8") and "iimc" in md.read_text("utf-8")
