"""A page-only portal whose second factor is the app alone: the checks about any second factor
pass the app's code, and judge.

django-allauth takes no mailed code after the password (docs/allauth.md), so its site map says
``capabilities.email_login = false``; the checks of "Trust this browser", of the cookies' flags
and of malformed codes then read NOT_APPLICABLE, though allauth has all three: they signed in
by mail only; so did the mail's encoding, which allauth's address mails show as well. Here the reference's own pages stand in for such a portal, through the html driver
with a site map that declares no login by mail (``ninsho serve``, test clock): those checks
must judge, and PASS, by the app.
"""

from __future__ import annotations

from pathlib import Path

from tests.harness.test_html_faults import SITE_MAP
from tests.harness.test_http_harness import harness_server, run_harness

APP_ONLY = SITE_MAP + "[capabilities]\nemail_login = false\n"
# MAIL_ENCODING: judged by the mail such a portal does send, the new address's code.
JUDGED_BY_THE_APP = (
    "TRUST_BROWSER",
    "TRUST_BROWSER_EXPIRY",
    "WEB_COOKIE_FLAGS",
    "INPUT_ERRORS_PRECISE",
    "MAIL_ENCODING",
)


def test_the_checks_of_any_second_factor_pass_the_apps_code(tmp_path: Path) -> None:
    site_map = tmp_path / "site.toml"
    site_map.write_text(APP_ONLY, encoding="utf-8")
    server = harness_server(tmp_path)
    try:
        server.start()
        select = (
            "-m",
            " or ".join(JUDGED_BY_THE_APP),
            "-k",
            "not test_features",
            f"--ninsho-site-map={site_map}",
        )
        run = run_harness(tmp_path, server, "html", select=select)
    finally:
        server.stop()
    verdicts = {rid: run.verdicts.get(rid) for rid in JUDGED_BY_THE_APP}
    assert verdicts == dict.fromkeys(JUDGED_BY_THE_APP, "PASS"), f"{run.reasons}\n{run.output}"
