"""The plugin's promises to its users: exit statuses, the baseline, --strict, reports, selection,
the dry run, and redaction. Each runs the real plugin in a pytester sub-session."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from ninsho.conformance.results import EXIT_FAIL, EXIT_OK, EXIT_STRICT
from tests.harness.report_rows import judged

CHECKS = ["--pyargs", "ninsho.conformance.checks", "-p", "no:cacheprovider"]


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    report = Path(pytester.path) / "report.json"
    result = pytester.runpytest(*CHECKS, "--ninsho-json", str(report), *args)
    document = json.loads(report.read_text("utf-8")) if report.exists() else {}
    return result, document


def verdicts(document: dict[str, Any]) -> dict[str, str]:
    return {row["id"]: row["verdict"] for row in judged(document)}


def test_selection_by_requirement_id(pytester: pytest.Pytester) -> None:
    result, document = run(pytester, "-m", "TOTP_WINDOW")
    assert result.ret == EXIT_OK
    rows = {row["id"]: row for row in judged(document)}
    selected = {c["check"] for c in rows["TOTP_WINDOW"]["checks"]}
    ran = {c["check"] for row in rows.values() for c in row["checks"]}
    assert ran == selected, "a check without the TOTP_WINDOW marker ran"
    probe = next(c for c in rows["TOTP_WINDOW"]["checks"] if c["check"].endswith("test_totp_window"))
    assert probe["measured"]["window"] == "accepted -1…+1", probe


def test_selection_by_level_and_area(pytester: pytest.Pytester) -> None:
    _, by_area = run(pytester, "-m", "area_totp")
    totp = {"TOTP_ALGORITHM", "TOTP_DIGITS", "TOTP_WINDOW", "TOTP_REPLAY", "TOTP_SECRET_STRENGTH"}
    rows = {row["id"]: row for row in judged(by_area)}
    assert totp <= set(rows)
    in_area = {c["check"] for rid in totp for c in rows[rid]["checks"]}
    assert all(c["check"] in in_area for row in rows.values() for c in row["checks"]), "a non-TOTP check ran"
    _, should = run(pytester, "-m", "SHOULD and not MUST")
    assert {r["level"] for r in judged(should)} == {"SHOULD"}


def test_a_fail_exits_1_and_names_the_requirement(pytester: pytest.Pytester) -> None:
    result, document = run(
        pytester, "-m", "TOTP_WINDOW", "-k", "test_totp_window", "--ninsho-fault", "wide-window"
    )
    assert result.ret == EXIT_FAIL
    row = judged(document)[0]
    assert (row["id"], row["verdict"]) == ("TOTP_WINDOW", "FAIL")
    assert row["measured"]["window"] == "accepted -3…+3"
    result.stdout.fnmatch_lines(["*TOTP_WINDOW*MUST*FAIL*accepted -3…+3*"])


def test_baseline_turns_a_known_failure_into_an_expected_one(pytester: pytest.Pytester) -> None:
    baseline = pytester.makefile(
        ".toml",
        baseline="# the window is ±3 until the vendor fixes it\n"
        '[[expected_failure]]\nrequirement = "TOTP_WINDOW"\nreason = "ticket 42: window ±3 until release 5"\n',
    )
    result, document = run(
        pytester,
        "-k",
        "test_totp_window",
        "--ninsho-fault",
        "wide-window",
        "--ninsho-baseline",
        str(baseline),
    )
    assert result.ret == EXIT_OK
    assert judged(document)[0]["expected_failure"] == "ticket 42: window ±3 until release 5"
    result.assert_outcomes(xfailed=1)


def test_baseline_flags_an_unexpected_pass(pytester: pytest.Pytester) -> None:
    baseline = pytester.makefile(
        ".toml", baseline='[[expected_failure]]\nrequirement = "TOTP_WINDOW"\nreason = "was broken"\n'
    )
    result, document = run(pytester, "-k", "test_totp_window", "--ninsho-baseline", str(baseline))
    assert result.ret == EXIT_FAIL
    assert judged(document)[0]["unexpected_pass"] is True
    result.stdout.fnmatch_lines(["*TOTP_WINDOW*PASS (unexpected: listed in the baseline)*"])


def test_baseline_refuses_unknown_ids_and_missing_reasons(pytester: pytest.Pytester) -> None:
    unknown = pytester.makefile(".toml", unknown='[[expected_failure]]\nrequirement = "NOPE"\nreason = "x"\n')
    result = pytester.runpytest(*CHECKS, "--ninsho-baseline", str(unknown))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'NOPE' is not registered*"])
    silent = pytester.makefile(".toml", silent='[[expected_failure]]\nrequirement = "TOTP_WINDOW"\n')
    result = pytester.runpytest(*CHECKS, "--ninsho-baseline", str(silent))
    result.stderr.fnmatch_lines(["*reason must explain the failure*"])


def test_strict_fails_skipped_but_not_reasoned_not_applicable(pytester: pytest.Pytester) -> None:
    """A feature's example spelled with a KELVIN SIGN is NOT_APPLICABLE under a profile whose
    only blocked domain has no "k" (the address vectors are templates over the profile's list,
    and that spelling has no form for it); a replay check is SKIPPED under a profile with no
    past step."""
    profile = pytester.makefile(
        ".toml",
        other='[profile]\nname = "other"\nextends = "iimc"\n'
        '[email.blocked_domains]\nvalue = ["example.org"]\nsource = "a vendor list"\n',
    )
    args = ("-m", "EMAIL_BLOCKED_DOMAIN", "-k", "kelvin", "--ninsho-profile", str(profile))
    relaxed, document = run(pytester, *args)
    assert relaxed.ret == EXIT_OK
    assert set(verdicts(document).values()) == {"NOT_APPLICABLE"}
    strict, _ = run(pytester, *args, "--ninsho-strict")
    assert strict.ret == EXIT_OK  # NOT_APPLICABLE is a reasoned answer, not a gap
    replay = ("-m", "TOTP_REPLAY", "--ninsho-profile", str(_no_past_window(pytester)))
    assert pytester.runpytest(*CHECKS, *replay).ret == EXIT_OK
    assert pytester.runpytest(*CHECKS, *replay, "--ninsho-strict").ret == EXIT_STRICT


def _no_past_window(pytester: pytest.Pytester) -> Path:
    return pytester.makefile(
        ".toml",
        nopast='[profile]\nname = "nopast"\nextends = "iimc"\n'
        '[totp.window_past_steps]\nvalue = 0\nassumed = true\nstandard = "test"\n',
    )


def test_list_and_dry_run_contact_nothing(pytester: pytest.Pytester) -> None:
    listing = pytester.runpytest(*CHECKS, "--ninsho-list")
    assert listing.ret == EXIT_OK
    listing.stdout.fnmatch_lines(["TOTP_WINDOW [[]MUST[]] * check(s)", "*test_totp.py::test_totp_window"])
    dry = pytester.runpytest(*CHECKS, "--ninsho-dry-run", "-m", "LOGOUT", "-k", "test_logout_ends")
    dry.stdout.fnmatch_lines(
        ["portal: embedded reference*", "1 checks would run*", "*test_logout_ends_the_session*"]
    )
    dry.assert_outcomes()  # nothing ran


def test_junit_carries_requirement_ids_and_verdicts(pytester: pytest.Pytester) -> None:
    junit = Path(pytester.path) / "junit.xml"
    pytester.runpytest(*CHECKS, "-m", "LOGOUT", f"--junitxml={junit}")
    properties = {(p.get("name"), p.get("value")) for p in ET.parse(junit).iter("property")}
    assert ("requirement", "LOGOUT") in properties
    assert ("verdict", "LOGOUT=PASS") in properties


def test_reports_redact_codes_secrets_and_passwords(pytester: pytest.Pytester) -> None:
    html = Path(pytester.path) / "report.html"
    _, document = run(
        pytester, "-m", "EMAIL_OTP_SINGLE_USE or APP_PROVISIONING_URI", "--ninsho-html", str(html)
    )
    evidence = "\n".join(
        line for row in document["requirements"] for c in row["checks"] for line in c["evidence"]
    )
    assert "mailbox: body" in evidence and "login login_id=" in evidence  # there is evidence to redact
    assert not re.search(r"(?<![\w#])\d{6,8}(?![\w#])", evidence), "a code is in the evidence"
    assert "pw-" not in evidence, "a password is in the evidence"
    assert not re.search(r"secret=[A-Z2-7]{16,}", evidence)
    page = html.read_text("utf-8")
    assert "EMAIL_OTP_SINGLE_USE" in page and "PASS" in page and "pw-" not in page


def test_bad_portal_config_names_the_key(pytester: pytest.Pytester) -> None:
    config = pytester.makefile(".toml", portal='[portal]\ndriver = "json"\nbase_url = "ftp://x"\n')
    result = pytester.runpytest(*CHECKS, "--ninsho-portal", str(config))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[]portal.base_url[]] must be an http(s) URL*"])
