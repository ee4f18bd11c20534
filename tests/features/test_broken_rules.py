"""Breaking one rule in the portal makes the features fail, in English and in Japanese alike.

Each case runs every feature, in both languages, in an inner pytest (``pytester``) against an
embedded portal with one rule broken: one of the deliberately faulty portals of
``ninsho.reference.faults`` (the same registry the harness is proved with), named by the
``portal_fault`` fixture, while the features still judge by the untouched iimc profile
(``profile``). The test asserts that the scenarios that check that rule fail, and that the
Japanese run fails exactly the counterparts of the English failures (same feature file, same
position, same Examples row).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ninsho.reference.faults import FAULTS

from . import embedded_fixtures
from .gherkin_pairs import pair_key, parse_feature
from .paths import FEATURES

pytest_plugins = ["pytester"]

# The fixtures module is copied next to this conftest, so the inner run imports it by its file
# name whatever sys.path the outer run has.
INNER_CONFTEST = """
import json
from pathlib import Path

import pytest

from embedded_fixtures import driver, embedded, inprocess, mailbox, margin_seconds, operator, portal_clock, profile

FAILED = Path(__file__).parent / "failed.jsonl"


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("ninsho.conformance.steps"):
        config.pluginmanager.import_plugin("ninsho.conformance.steps")


def pytest_bdd_step_error(request, feature, scenario, step, step_func, step_func_args, exception):
    callspec = getattr(request.node, "callspec", None)
    record = {
        "file": feature.filename,
        "line": scenario.line_number,
        "example": callspec.id if callspec is not None else "",
        "message": str(exception)[:300],
    }
    with FAILED.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, ensure_ascii=False) + "\\n")


@pytest.fixture
def portal_fault():
    return {fault}
"""

ALL_ROWS = "*"
MustFail = tuple[tuple[str, str], ...]

# Per fault of FAULTS, exactly the English scenarios that must fail: (title, Examples id, "" for
# a plain Scenario, or ALL_ROWS for every row of an outline).
BREAKAGES: dict[str, MustFail] = {
    "wide-window": (
        ("A code from a clock <offset> time steps off is accepted only inside the window", "-2"),
        ("A code from a clock <offset> time steps off is accepted only inside the window", "+2"),
    ),
    "no-expiry": (
        ("A mailed one-time password is valid for the profile's lifetime only", "lifetime"),
        ("A mailed one-time password is valid for the profile's lifetime only", "lifetime + 60 s"),
        (
            "The one-time password that confirms an address is valid for the profile's lifetime only",
            "lifetime",
        ),
        (
            "The one-time password that confirms an address is valid for the profile's lifetime only",
            "lifetime + 60 s",
        ),
        ("The confirmation code is valid for the profile's lifetime only", "lifetime"),
        ("The confirmation code is valid for the profile's lifetime only", "lifetime + 60 s"),
    ),
    "no-single-use": (
        ("The app's one-time password cannot be used twice", ""),
        ("A mailed one-time password can be used only once", ""),
    ),
    "no-blocked-domains": (("A university address cannot be registered, however it is spelled", ALL_ROWS),),
    "two-addresses": (("Changing the registered address", ""),),
    "resend-resets-failures": (('"Resend" does not give new attempts', ""),),
    "reset-keeps-apps": (
        ("Resetting the app and registering it again", ""),
        ("After initializing, the next login starts from the initial setup", ""),
        ("The ICT Support Center reads out the confirmation code", ""),
        # run under iimc-2021 (tests/features/embedded_fixtures.py), where the reset is by link
        ("Initializing by the mailed link and registering the app again", ""),
        ("The ICT Support Center confirms the caller, and the QR code screen shows up by itself", ""),
    ),
    # the 2021 portal's path with no address (faq-totp-reset-2021 "ICT Support Center" ①–②)
    "helpdesk-screen-stuck": (
        ("The ICT Support Center confirms the caller, and the QR code screen shows up by itself", ""),
    ),
    "helpdesk-notice-to-user": (
        ("The ICT Support Center confirms the caller, and the QR code screen shows up by itself", ""),
    ),
}


def _run(pytester: pytest.Pytester, fault: str | None) -> tuple[list[dict[str, Any]], pytest.RunResult]:
    shutil.copy(embedded_fixtures.__file__, pytester.path / "embedded_fixtures.py")
    pytester.makeconftest(INNER_CONFTEST.replace("{fault}", repr(fault)))
    for language in ("en", "ja"):
        pytester.makepyfile(
            **{
                f"test_inner_{language}": (
                    f"from pytest_bdd import scenarios\nscenarios({str(FEATURES / language)!r})\n"
                )
            }
        )
    # Without the harness plugin (under its old and its new entry-point name): the inner run is
    # the features on the embedded portal only.
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "no:ninsho", "-p", "no:ninsho-harness", "--strict-markers", "-q"
    )
    failed = pytester.path / "failed.jsonl"
    records = (
        [json.loads(line) for line in failed.read_text(encoding="utf-8").splitlines()]
        if failed.exists()
        else []
    )
    return records, result


def _row_count(title: str) -> int:
    for path in sorted((FEATURES / "en").glob("*.feature")):
        for scenario in parse_feature(path).scenarios:
            if scenario.name == title:
                return sum(len(block.rows) for block in scenario.examples)
    raise KeyError(title)


def _failures(records: list[dict[str, Any]], language: str) -> dict[tuple[str, int, str], str]:
    """Failed scenarios of one language: (file, position, Examples id) → scenario title."""
    found = {}
    for r in records:
        if Path(r["file"]).parent == FEATURES / language:
            name, index, title = pair_key(r["file"], r["line"])
            found[(name, index, r["example"])] = title
    return found


@pytest.mark.parametrize("fault", list(BREAKAGES))
def test_breaking_a_rule_fails_the_same_scenarios_in_both_languages(
    pytester: pytest.Pytester, fault: str
) -> None:
    must_fail = BREAKAGES[fault]
    rule = f"{fault} ({FAULTS[fault].description})"
    records, result = _run(pytester, fault)
    en, ja = _failures(records, "en"), _failures(records, "ja")
    failed_en = {(title, example) for (_, _, example), title in en.items()}
    every_row = {title for title, example in must_fail if example == ALL_ROWS}
    exact = {(title, example) for title, example in must_fail if example != ALL_ROWS}
    others = {f for f in failed_en if f[0] not in every_row}
    assert others == exact, (
        f"with {rule}, English failures should be exactly the scenarios of that rule: "
        f"missing {sorted(exact - others)}, unexpected {sorted(others - exact)}"
    )
    for title in every_row:
        failing_rows = sum(1 for t, _ in failed_en if t == title)
        assert failing_rows == _row_count(title), f"with {rule}, every row of {title!r} should fail"
    assert set(en) == set(ja), (
        f"with {rule}, English and Japanese fail different scenarios: en {sorted(en.values())} / "
        f"ja {sorted(ja.values())}"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == len(records) == 2 * len(en), (
        "every failure should be a failing step of a scenario, recorded once per language: "
        f"{outcomes} / {len(records)} records"
    )


def test_the_unbroken_portal_fails_nothing(pytester: pytest.Pytester) -> None:
    """The inner run itself is sound: the same set-up with no rule broken passes everything."""
    records, result = _run(pytester, None)
    assert records == []
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("passed", 0) > 0, outcomes
