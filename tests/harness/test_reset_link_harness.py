"""The harness on the 2021 portal (``iimc-2021``, reset by link; protocol.md §19), in process:
the correct reference PASSes everything the profile leaves applicable, the code screen's
requirements read NOT_APPLICABLE with the profile's reason, and each fault of the reset link
FAILs exactly what it breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ninsho.conformance.errors import NotApplicable, NotSupported
from ninsho.conformance.probes.reset_link import center, watcher
from ninsho.reference.faults import FAULTS
from tests.harness.report_rows import broken, ruled_out_by, status_when_broken
from tests.harness.test_faulty_portals import run_checks
from tests.harness.test_html_faults import SITE_MAP, stopped_at
from tests.harness.test_http_harness import harness_server, run_harness

PROFILE = "iimc-2021"
LINK_FAULTS = sorted(name for name, fault in FAULTS.items() if fault.proven_under == PROFILE)
# In process there is no HTTP extension to look for (as under iimc), and the profile rules out
# the code screen's requirements.
NOT_APPLICABLE = dict.fromkeys(["TEST_CLOCK_DISABLED_BY_DEFAULT", *ruled_out_by(PROFILE)], "NOT_APPLICABLE")


def test_the_profile_rules_out_the_code_screen_and_nothing_else() -> None:
    assert set(ruled_out_by(PROFILE)) == {
        "RESET_CONFIRMATION_MAIL",
        "RESET_CODE_DIGITS",
        "RESET_CODE_LIFETIME",
        "RESET_CODE_SINGLE_USE",
        "RESET_SCREEN",
        "RESET_ADDRESS_MASKED",
        "RESET_NO_ADDRESS_PLACEHOLDER",
        "HELPDESK_ISSUES_CODE",
        "HELPDESK_PENDING_ONLY",
    }
    assert {rid for rid in ruled_out_by("iimc") if not rid.startswith("RESET_LINK_")} == set()


def test_without_the_centers_operator_or_watcher_the_path_is_not_applicable() -> None:
    """A vendor's operator with no ``helpdesk_confirm``, or a driver with no
    ``watch_reset_screen``: the checks of the center's path are NOT_APPLICABLE, saying why."""

    class Bare:
        name = "bare"

    with pytest.raises(NotApplicable, match="HelpdeskConfirmer"):
        center(Bare())  # type: ignore[arg-type]
    with pytest.raises(NotSupported, match="ResetScreenWatcher"):
        watcher(Bare())  # type: ignore[arg-type]


def test_correct_reference_passes_everything_under_iimc_2021(pytester: pytest.Pytester) -> None:
    status, verdicts = run_checks(pytester, None, PROFILE)
    not_passed = {k: v for k, v in verdicts.items() if v != "PASS"}
    assert not_passed == NOT_APPLICABLE, not_passed
    assert {rid for rid, v in verdicts.items() if v == "PASS"} >= {
        "RESET_LINK_MAIL",
        "RESET_LINK_TOKEN_STRENGTH",
        "RESET_VOIDS_APPS",
        "RESET_CLEARS_EMAIL",
        "TRUST_BROWSER_REVOKED_BY_RESET",
        "MESSAGES_BILINGUAL",
    }
    assert status == 0


@pytest.mark.parametrize("fault", LINK_FAULTS)
def test_link_fault_fails_exactly_its_requirements(pytester: pytest.Pytester, fault: str) -> None:
    status, verdicts = run_checks(pytester, fault, PROFILE)
    failed = broken(verdicts)
    assert failed == set(FAULTS[fault].breaks), f"{fault}: {FAULTS[fault].description}"
    assert status == status_when_broken(FAULTS[fault].breaks)
    others = {rid: v for rid, v in verdicts.items() if rid not in failed and v != "PASS"}
    assert others == NOT_APPLICABLE, f"{fault} disturbed other verdicts: {others}"


# Over HTTP, through the JSON driver, which reads the URL from the mail the SMTP sink caught: the
# correct server and every fault of the link, on the server's test clock.
@pytest.mark.slow
@pytest.mark.parametrize("fault", [None, *LINK_FAULTS])
def test_json_driver_follows_the_link_over_http(tmp_path: Path, fault: str | None) -> None:
    server = harness_server(tmp_path / "server", fault, profile=PROFILE).start()
    try:
        run = run_harness(tmp_path, server, "json", select=("-k", "test_reset_link"))
    finally:
        server.stop()
    judged = set(run.verdicts)
    assert {"RESET_LINK_MAIL", "RESET_LINK_BOUND_TO_ACCOUNT", "RESET_LINK_TOKEN_STRENGTH"} <= judged, (
        run.output
    )
    failed = broken(run.verdicts)
    assert failed == (set(FAULTS[fault].breaks) if fault else set()), run.output
    others = {rid: v for rid, v in run.verdicts.items() if rid not in failed and v != "PASS"}
    # Not reached: in this selection every check of it stopped at the fault's FAIL first (the
    # notices' count, when the notice goes to the user instead of the center).
    unreached = {
        rid
        for rid, v in others.items()
        if v == "SKIPPED" and run.reasons[rid] and all(stopped_at(r) <= failed for r in run.reasons[rid])
    }
    assert {rid: v for rid, v in others.items() if rid not in unreached} == {}, run.output


# The ICT Support Center's path over HTTP (faq-totp-reset-2021 "ICT Support Center" ①–②), its
# checks and its feature scenarios in both languages: the JSON driver polls the open session's
# settings; the html driver leaves the reset screen open after "初期化", and after the center's
# confirm sees the QR code appear on it, as the page's refresh shows it. The faults of this path
# are run over the JSON binding above and through the pages by tests/harness/test_html_faults.py.
HELPDESK_PATH = ("RESET_LINK_HELPDESK_MAIL", "RESET_LINK_HELPDESK_CONFIRM")


@pytest.mark.slow
@pytest.mark.parametrize("driver", ["json", "html"])
def test_the_centers_path_passes_over_http(tmp_path: Path, driver: str) -> None:
    server = harness_server(tmp_path / "server", profile=PROFILE).start()
    site_map = tmp_path / "site.toml"
    site_map.write_text(SITE_MAP, encoding="utf-8")
    try:
        select = ("-m", " or ".join(HELPDESK_PATH))
        run = run_harness(
            tmp_path,
            server,
            driver,
            select=(*select, f"--ninsho-site-map={site_map}") if driver == "html" else select,
        )
    finally:
        server.stop()
    assert {rid: run.verdicts.get(rid) for rid in HELPDESK_PATH} == dict.fromkeys(HELPDESK_PATH, "PASS"), (
        run.output
    )
    assert run.not_passed() == {}, run.output
