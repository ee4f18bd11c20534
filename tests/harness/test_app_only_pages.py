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

from pathlib import Path

import pytest

from tests.harness.test_html_faults import SITE_MAP
from tests.harness.test_http_harness import Run, harness_server, run_harness

APP_ONLY = SITE_MAP + "[capabilities]\nemail_login = false\n"
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


def verdicts_through_the_app(tmp_path: Path, requirements: tuple[str, ...], fault: str | None = None) -> Run:
    """The checks of ``requirements`` (not the features), through the reference's pages with a
    site map that declares no login by mail; on ``ninsho serve --fault fault`` if one is given."""
    site_map = tmp_path / "site.toml"
    site_map.write_text(APP_ONLY, encoding="utf-8")
    server = harness_server(tmp_path, fault)
    try:
        server.start()
        select = ("-m", " or ".join(requirements), "-k", "not test_features", f"--ninsho-site-map={site_map}")
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
