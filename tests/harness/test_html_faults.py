"""The reference's faulty portals through the html driver: caught on the right requirement ID
through the pages too (issue "Page-only portals", 6).

tests/harness/test_http_harness.py proves the JSON driver FAILs what ``ninsho serve --fault NAME``
breaks; this does the same through the reference's own bilingual pages. Each fault gets its own
``ninsho serve --fault NAME`` (test clock, its own SMTP port) and one harness run with the html
driver, selected by the requirements the fault must FAIL (``-m "A or B"``: the checks and the
EN/JA feature scenarios tagged with them), so that every fault's run stays within seconds. In
that selection the fault's requirements FAIL (WARN for a SHOULD), and every other requirement its
checks speak for PASSes, or is SKIPPED because each of its checks stopped at the fault's FAIL
before it got there (or does not apply), or is one the pages cannot judge on the correct portal
either (``HTML_NOT_APPLICABLE``, with the same reason).

A fault is left out only with its reason in :data:`NOT_THROUGH_PAGES` (the races); the module
fails if a fault of reference/faults.py is in neither list. The reset-link faults are run too:
the driver follows the mailed URL as a mail reader opens it (``HtmlDriver.open_reset_link``).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from ninsho.reference.faults import FAULTS
from tests.harness.report_rows import broken, ruled_out_by, status_when_broken
from tests.harness.test_http_harness import HTML_NOT_APPLICABLE, Run, harness_server, run_harness
from tests.web.support import ServerProcess

# Faults not run through the pages, and why. A race is caught when the concurrent submissions
# meet inside the fault's window (reference/faults.py, RACE_WINDOW_SECONDS): over the JSON
# binding they do (tests/harness/test_http_harness.py); through the pages each submission is a
# form read and sent by its own browser thread, and on a loaded machine they spread past it
# (crash-on-lost-race read "1 of 8 accepted", a PASS, in one run at load 17, a FAIL in others).
# A verdict that depends on the machine's load would be a coin toss, not a test.
RACE = (
    "a race: whether the html driver's browsers submit within the fault's window depends on the"
    " machine's load; tests/harness/test_http_harness.py catches it over the JSON binding"
)
NOT_THROUGH_PAGES: dict[str, str] = dict.fromkeys(("crash-on-lost-race", "replay-race"), RACE)
# What `ninsho discover` declares for the reference's pages: the label its settings show the
# registered address after. Without it the driver tells the initial set-up from a signed-in
# session only once an earlier check of the run has shown it that label (docs/html-driver.md,
# "Initial set-up or signed in"), and a selection may start with the set-up.
SITE_MAP = '[address]\nsettings_label = "登録済みのアドレス / Registered address"\n'
THROUGH_PAGES = tuple(sorted(set(FAULTS) - set(NOT_THROUGH_PAGES)))
# A check that carries a requirement the profile rules out is NOT_APPLICABLE as a whole, for
# each of its requirements (conformance/applicability.py), with this in its reason.
RULED_OUT = "this check walks that path"


def selection(fault: str, site_map: Path) -> tuple[str, ...]:
    return ("-m", " or ".join(FAULTS[fault].breaks), f"--ninsho-site-map={site_map}")


def cannot_judge(fault: str) -> dict[str, str]:
    """Requirement → why a run through the pages cannot judge it for ``fault``: the limits of the
    pages (``HTML_NOT_APPLICABLE``, less what it has only because the correct run is under iimc)
    and what the profile the fault is served under rules out."""
    pages = {rid: why for rid, why in HTML_NOT_APPLICABLE.items() if rid not in ruled_out_by("iimc")}
    return {**pages, **ruled_out_by(FAULTS[fault].proven_under)}


def seen_through_pages(fault: str) -> set[str]:
    """The requirements of ``fault`` that a run through the pages can judge at all."""
    return set(FAULTS[fault].breaks) - set(cannot_judge(fault))


def stopped_at(reason: str) -> set[str]:
    """The requirements a check FAILed, or could not judge, before it stopped, from a "not
    reached" reason (conformance/results.py); {"?"} for any other reason, which no fault's FAILs
    include. INCONCLUSIVE counts where the run FAILs that requirement elsewhere: a fault that lets
    blocked addresses through mails each of the vectors' spellings of one address, and past the
    mail limit the portal holds the next one back, which judges nothing of the address
    (probes/addresses.register_case)."""
    found = re.fullmatch(
        r"not reached: the check stopped early \((.*)\) before it judged this requirement", reason
    )
    parts = found.group(1).split("; ") if found else ["?"]
    return {part.rsplit(" ", 1)[0] if part.endswith((" FAIL", " INCONCLUSIVE")) else "?" for part in parts}


@dataclass
class FaultRun:
    run: Run
    seconds: float
    checks: dict[str, list[tuple[str, str]]]  # requirement → (verdict, reason) of each of its checks


def run_fault(workdir: Path, fault: str) -> FaultRun:
    server: ServerProcess = harness_server(workdir, fault, profile=FAULTS[fault].proven_under)
    try:
        server.start()
        started = time.monotonic()
        site_map = workdir / "site.toml"
        site_map.write_text(SITE_MAP, encoding="utf-8")
        run = run_harness(workdir, server, "html", select=selection(fault, site_map))
        seconds = time.monotonic() - started
    finally:
        server.stop()
    rows = json.loads((workdir / "ninsho.json").read_text("utf-8"))["requirements"]  # run_harness's report
    checks = {row["id"]: [(c["verdict"], str(c.get("reason") or "")) for c in row["checks"]] for row in rows}
    return FaultRun(run, seconds, checks)


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, FaultRun]]:
    """One server and one html run per fault the session selected (``-k``), as many at once as
    there are cores; each server is stopped when its run ends."""
    selected = {
        item.callspec.params["fault"]
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.module is sys.modules[__name__]
        and hasattr(item, "callspec")
    }
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        futures = {
            name: pool.submit(run_fault, tmp_path_factory.mktemp(f"html-{name}"), name)
            for name in sorted(set(FAULTS) - set(NOT_THROUGH_PAGES))
            if name in selected
        }
        yield {name: future.result() for name, future in futures.items()}


def test_every_fault_is_run_or_left_out_with_its_reason() -> None:
    listed = [*THROUGH_PAGES, *NOT_THROUGH_PAGES]
    assert sorted(listed) == sorted(FAULTS), "each fault in exactly one list"
    assert all(reason.strip() for reason in NOT_THROUGH_PAGES.values())
    assert all(seen_through_pages(name) for name in THROUGH_PAGES), "a fault run with nothing to see"


@pytest.mark.slow
@pytest.mark.parametrize("fault", THROUGH_PAGES)
def test_html_driver_fails_exactly_the_faults_requirements(runs: dict[str, FaultRun], fault: str) -> None:
    run = runs[fault].run
    failed = broken(run.verdicts)  # FAIL, or WARN for a SHOULD (forgets-login-id)
    assert failed == seen_through_pages(fault), (
        f"{fault}: {FAULTS[fault].description} ({runs[fault].seconds:.0f} s)\n{run.output}"
    )
    others = {rid: v for rid, v in run.not_passed().items() if rid not in failed}
    for rid, verdict in others.items():
        checks = runs[fault].checks[rid]
        if verdict == "SKIPPED":
            # No check judged it: each stopped at the fault's FAIL before it got there, or does
            # not apply (a path the profile rules out, an input a browser cannot send).
            assert all(
                stopped_at(reason) <= failed if v == "SKIPPED" else v == "NOT_APPLICABLE"
                for v, reason in checks
            ), (fault, rid, checks)
        elif all(v == "NOT_APPLICABLE" and RULED_OUT in reason for v, reason in checks):
            continue  # each of its checks walks a path the fault's profile rules out (applicability)
        else:  # the pages cannot judge it on the correct portal either, or the profile rules it out
            assert verdict == "NOT_APPLICABLE" and rid in cannot_judge(fault), (
                f"{fault} disturbed {rid}: {verdict}"
            )
            # each check for the reason given there (a check may walk another requirement's path)
            reasons = cannot_judge(fault).values()
            assert all(any(why in given for why in reasons) for _, given in checks), (rid, checks)
    assert run.status == status_when_broken(FAULTS[fault].breaks), run.output


def test_a_not_reached_reason_names_the_fail_it_stopped_at() -> None:
    stopped = "not reached: the check stopped early (A FAIL; B FAIL) before it judged this requirement"
    assert stopped_at(stopped) == {"A", "B"}
    assert stopped_at(stopped.replace("B FAIL", "B ERROR")) == {"A", "?"}
    assert stopped_at("the pages show the Confirm Code field only right after Initialize") == {"?"}
