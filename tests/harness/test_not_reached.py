"""A check that stops early still gives every requirement it carries a verdict (issue #18 item 3):
a FAIL of one of its requirements leaves the others SKIPPED as not reached, with the reason,
never silently absent; and a not-reached line never outranks another check's PASS."""

from __future__ import annotations

import json

import pytest

from ninsho.conformance.errors import Advisory, Inconclusive, NotApplicable, RequirementFailed
from ninsho.conformance.results import Baseline, summarise, verdicts_for
from ninsho.conformance.verdicts import CheckResult, Verdict
from ninsho.spec.registry import requirements

REGISTRY = requirements()
MARKED = ["EMAIL_REGISTRATION_CONFIRM", "EMAIL_OTP_TO_REGISTERED_ADDRESS", "LOCKOUT_THRESHOLD"]


def by_requirement(results: list[CheckResult]) -> dict[str, CheckResult]:
    assert len(results) == len({r.requirement for r in results}), results
    return {r.requirement: r for r in results}


@pytest.mark.parametrize(
    ("stop", "verdict"),
    [
        (RequirementFailed("EMAIL_OTP_TO_REGISTERED_ADDRESS", "mailed to the new address"), Verdict.FAIL),
        (Advisory("EMAIL_OTP_TO_REGISTERED_ADDRESS", "narrower"), Verdict.WARN),
        (Inconclusive("too close to call", "EMAIL_OTP_TO_REGISTERED_ADDRESS"), Verdict.INCONCLUSIVE),
    ],
)
def test_a_check_stopped_on_one_requirement_reports_the_others_as_not_reached(
    stop: Exception, verdict: Verdict
) -> None:
    results = by_requirement(verdicts_for("check", MARKED, REGISTRY, stop))
    assert set(results) == set(MARKED)
    assert results["EMAIL_OTP_TO_REGISTERED_ADDRESS"].verdict is verdict
    for rid in ("EMAIL_REGISTRATION_CONFIRM", "LOCKOUT_THRESHOLD"):
        assert results[rid].verdict is Verdict.SKIPPED
        assert results[rid].reason.startswith("not reached")
        assert f"EMAIL_OTP_TO_REGISTERED_ADDRESS {verdict.value}" in results[rid].reason


def test_a_failure_of_a_requirement_the_check_is_not_marked_with_leaves_every_mark_a_line() -> None:
    """An action's own FAIL (MAIL_BODY_CODE, from a shared action) in a lockout check: the
    lockout was never judged, and says so."""
    stop = RequirementFailed("MAIL_BODY_CODE", "no code in the mail")
    results = by_requirement(verdicts_for("check", ["LOCKOUT_THRESHOLD"], REGISTRY, stop))
    assert results["MAIL_BODY_CODE"].verdict is Verdict.FAIL
    assert results["LOCKOUT_THRESHOLD"].verdict is Verdict.SKIPPED


@pytest.mark.parametrize(
    "outcome", [None, AssertionError("plain"), NotApplicable("no such feature"), RuntimeError("bug")]
)
def test_outcomes_that_speak_for_every_mark_add_no_not_reached_line(outcome: BaseException | None) -> None:
    results = verdicts_for("check", MARKED, REGISTRY, outcome)
    assert [r.requirement for r in results] == MARKED
    assert not any(r.reason.startswith("not reached") for r in results)


def test_not_reached_does_not_outrank_another_checks_pass_but_stands_alone_as_skipped() -> None:
    stopped = verdicts_for("first", MARKED, REGISTRY, RequirementFailed("LOCKOUT_THRESHOLD", "not locked"))
    passed = verdicts_for("second", ["EMAIL_REGISTRATION_CONFIRM"], REGISTRY, None)
    rows = {row.requirement.id: row for row in summarise(stopped + passed, REGISTRY, Baseline())}
    assert rows["LOCKOUT_THRESHOLD"].verdict is Verdict.FAIL
    assert rows["EMAIL_REGISTRATION_CONFIRM"].verdict is Verdict.PASS
    alone = rows["EMAIL_OTP_TO_REGISTERED_ADDRESS"]
    assert alone.verdict is Verdict.SKIPPED
    assert [c.check for c in alone.checks] == ["first"]
    assert alone.checks[0].reason.startswith("not reached")


def test_a_plugin_run_shows_the_not_reached_requirement_in_its_report(pytester: pytest.Pytester) -> None:
    """Through the hooks: the WARN of one mark passes the pytest item, and the other mark's row
    is there, SKIPPED with its reason."""
    pytester.makepyfile(
        test_stop="""
        import pytest
        from ninsho.conformance.errors import Advisory

        @pytest.mark.TOTP_WINDOW
        @pytest.mark.TOTP_REPLAY
        def test_stops():
            raise Advisory("TOTP_WINDOW", "narrower")
        """
    )
    report = pytester.path / "ninsho.json"
    result = pytester.runpytest("-p", "no:cacheprovider", "-q", "--ninsho-json", str(report))
    result.assert_outcomes(passed=1)
    rows = {row["id"]: row for row in json.loads(report.read_text("utf-8"))["requirements"]}
    assert rows["TOTP_WINDOW"]["verdict"] == "WARN"
    assert rows["TOTP_REPLAY"]["verdict"] == "SKIPPED"
    assert rows["TOTP_REPLAY"]["checks"][0]["reason"].startswith("not reached")
