"""A page-only portal whose second factor is the app alone: the checks about any second factor
pass the app's code, and judge.

django-allauth takes no mailed code after the password (docs/allauth.md), so its site map says
``capabilities.email_login = false``; the checks of "Trust this browser", of the cookies' flags
and of malformed codes then read NOT_APPLICABLE, though allauth has all three: they signed in
by mail only; so did the mail's encoding, which allauth's address mails show as well. Here the reference's own pages stand in for such a portal, through the html driver
with a site map that declares no login by mail (``ninsho serve``, test clock): those checks
must judge, and PASS, by the app; and the same checks must FAIL the reference's faults of
those requirements, run the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ninsho.spec.registry import requirements
from tests.harness.test_html_faults import SITE_MAP
from tests.harness.test_http_harness import Run, harness_server, run_harness

APP_ONLY = SITE_MAP + "[capabilities]\nemail_login = false\n"
# allauth's: no "Initialize" either, and so no helpdesk path (spec/protocol.md §19.1).
WITHOUT_RESET = APP_ONLY + "reset = false\n"
JUDGED_BY_THE_APP = (
    "TRUST_BROWSER",
    "TRUST_BROWSER_EXPIRY",
    "WEB_COOKIE_FLAGS",
    "INPUT_ERRORS_PRECISE",
    "LOCKOUT_THRESHOLD",  # wrong codes of the app count too (§12.5)
    # a signed-in session, whichever factor signed it in (probes/enrol.signed_in)
    "LOGOUT",
    "SESSION_EXPIRY",
    "SESSION_ABSOLUTE_LIFETIME",
    "SESSION_TOKEN_RENEWED",
    "TRUST_BROWSER_REVOKED_BY_RESET",
    # the App tab and the Mail tab, reached in the set-up session (probes/enrol.in_settings)
    "APP_MANUAL_KEY",
    "APP_REGISTER_REQUIRES_CODE",
    "EMAIL_REGISTRATION_CONFIRM",
    # judged by the mail such a portal does send, the new address's code
    "MAIL_ENCODING",
    "MAIL_SENDER",
    "MAIL_SUBJECT_OTP",
    "MAIL_BODY_CODE",
    "EMAIL_OTP_DIGITS",
)
# A fault of the reference (reference/faults.py) -> the requirement the app's checks must FAIL.
CAUGHT_BY_THE_APP = {
    "no-absolute-lifetime": "SESSION_ABSOLUTE_LIFETIME",
    "no-lockout": "LOCKOUT_THRESHOLD",
    "token-kept-at-second-factor": "SESSION_TOKEN_RENEWED",
    "change-without-confirm": "EMAIL_REGISTRATION_CONFIRM",
    "register-without-code": "APP_REGISTER_REQUIRES_CODE",
    "wrong-mail-subject": "MAIL_SUBJECT_OTP",
}


def verdicts_through_the_app(
    tmp_path: Path,
    requirements: tuple[str, ...],
    fault: str | None = None,
    *,
    site: str = APP_ONLY,
    features: bool = False,
) -> Run:
    """The checks of ``requirements`` (and their feature scenarios if ``features``), through
    the reference's pages with a site map that declares no login by mail (``site``); on
    ``ninsho serve --fault fault`` if one is given."""
    site_map = tmp_path / "site.toml"
    site_map.write_text(site, encoding="utf-8")
    server = harness_server(tmp_path, fault)
    try:
        server.start()
        select = ("-m", " or ".join(requirements), f"--ninsho-site-map={site_map}")
        select += () if features else ("-k", "not test_features")
        return run_harness(tmp_path, server, "html", select=select)
    finally:
        server.stop()


def test_the_checks_of_any_second_factor_pass_the_apps_code(tmp_path: Path) -> None:
    run = verdicts_through_the_app(tmp_path, JUDGED_BY_THE_APP)
    verdicts = {rid: run.verdicts.get(rid) for rid in JUDGED_BY_THE_APP}
    assert verdicts == dict.fromkeys(JUDGED_BY_THE_APP, "PASS"), f"{run.reasons}\n{run.output}"


@pytest.mark.parametrize("fault", sorted(CAUGHT_BY_THE_APP))
def test_the_apps_checks_fail_the_faults_requirement(tmp_path: Path, fault: str) -> None:
    requirement = CAUGHT_BY_THE_APP[fault]
    run = verdicts_through_the_app(tmp_path, (requirement,), fault)
    assert run.verdicts.get(requirement) == "FAIL", f"{run.reasons}\n{run.output}"


def test_a_portal_without_reset_has_its_reset_checks_not_applicable_before_they_start(tmp_path: Path) -> None:
    """Every check and scenario that walks "Initialize" or the helpdesk reads NOT_APPLICABLE,
    with the declaration as the reason, not the first step it could not take on the way (on
    allauth: SKIPPED "not reached" behind the password's FAIL; here: "no login by mail")."""
    registry = requirements()
    areas = ("reset", "helpdesk")
    ids = tuple(sorted(rid for rid, requirement in registry.items() if requirement.area in areas))
    run = verdicts_through_the_app(tmp_path, ids, site=WITHOUT_RESET, features=True)
    assert run.status == 0, run.output
    walked = {rid: reasons for rid, reasons in run.reasons.items() if registry[rid].area in areas}
    assert set(walked) == set(ids), run.output
    for rid, reasons in walked.items():
        assert run.verdicts[rid] == "NOT_APPLICABLE", (rid, reasons)
        for reason in reasons:
            assert "(capabilities.reset = false): this check walks that flow" in reason or (
                "applies only with reset.mode = 'link'" in reason  # the profile's, first
            ), (rid, reason)
    report = json.loads((tmp_path / "ninsho.json").read_text("utf-8"))
    started = {
        check["check"]: check["evidence"][:3]
        for row in report["requirements"]
        if row["id"] in ids
        for check in row["checks"]
        if check["evidence"]
    }
    assert not started, f"these checks went to the portal before they were ruled out: {started}"
