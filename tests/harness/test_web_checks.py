"""The web checks (conformance/checks/test_web.py: WEB_CSRF, WEB_COOKIE_FLAGS, REMEMBER_LOGIN_ID)
on served portals, selected by their requirements: through the html driver they PASS on
``ninsho serve`` and on both skins of the page portal written outside the team, and each fault of
the pages (``ninsho serve --fault no-csrf``, ``cookie-no-httponly``, ``forgets-login-id``) breaks
exactly its requirement; through the json driver, which shows no pages, they are NOT_APPLICABLE
and say why. In process they run in every run of the checks (tests/harness/test_faulty_portals.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ninsho.conformance.drivers.html.web import parse_set_cookie
from ninsho.reference.faults import FAULTS
from tests.harness.report_rows import broken
from tests.harness.test_http_harness import harness_server, run_harness
from tests.harness.test_page_portals import SITES, PagePortal, check

WEB = ("WEB_CSRF", "WEB_COOKIE_FLAGS", "REMEMBER_LOGIN_ID")
SELECT = ("-m", " or ".join(WEB))
WEB_FAULTS = ("no-csrf", "cookie-no-httponly", "forgets-login-id")
TIMEOUT = 180.0


def test_set_cookie_attributes_are_read_as_a_browser_reads_them() -> None:
    cookie = parse_set_cookie(
        "sid=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60", "https://p.test/login", None
    )
    assert cookie is not None
    assert (cookie.name, cookie.value, cookie.http_only, cookie.secure, cookie.same_site) == (
        "sid", "abc", True, False, "lax",
    )  # fmt: skip
    assert cookie.lifetime == 60 and not cookie.deletes
    gone = parse_set_cookie(
        'r=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/',
        "http://p.test/",
        "Wed, 02 Dec 2026 00:00:00 GMT",
    )
    assert gone is not None and gone.deletes and not gone.http_only
    assert parse_set_cookie("no-value-here", "http://p.test/", None) is None


def _reference(workdir: Path, driver: str, fault: str | None) -> dict[str, str]:
    server = harness_server(workdir, fault)
    try:
        server.start()
        run = run_harness(workdir, server, driver, select=SELECT)
        return {rid: run.verdicts.get(rid, "") for rid in WEB} | {"reasons": " | ".join(
            r for rid in WEB for r in run.reasons.get(rid, [])
        )}  # fmt: skip
    finally:
        server.stop()


def _page_portal(workdir: Path, skin: str) -> dict[str, str]:
    portal = PagePortal(workdir, skin).start()
    try:
        run = check(workdir, portal.config(), SITES / f"{skin}.toml", *SELECT, timeout=TIMEOUT)
        verdicts = run.verdicts()
        return {rid: verdicts.get(rid, "") for rid in WEB} | {"reasons": run.output[-3000:]}
    finally:
        portal.stop()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, str]]]:
    plan: dict[str, Callable[[Path], dict[str, str]]] = {
        "html": lambda w: _reference(w, "html", None),
        "json": lambda w: _reference(w, "json", None),
        **{f"fault:{f}": (lambda w, f=f: _reference(w, "html", f)) for f in WEB_FAULTS},  # type: ignore[misc]
        **{f"page:{s}": (lambda w, s=s: _page_portal(w, s)) for s in ("table", "sjis")},  # type: ignore[misc]
    }
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        futures = {
            k: pool.submit(run, tmp_path_factory.mktemp(k.replace(":", "-"))) for k, run in plan.items()
        }
        yield {k: future.result() for k, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("key", ["html", "page:table", "page:sjis"])
def test_web_checks_pass_through_the_pages(runs: dict[str, dict[str, str]], key: str) -> None:
    run = runs[key]
    assert {rid: run[rid] for rid in WEB} == dict.fromkeys(WEB, "PASS"), run["reasons"]


@pytest.mark.slow
def test_json_driver_says_it_shows_no_pages(runs: dict[str, dict[str, str]]) -> None:
    run = runs["json"]
    assert {rid: run[rid] for rid in WEB} == dict.fromkeys(WEB, "NOT_APPLICABLE"), run["reasons"]
    assert "the json driver shows no pages" in run["reasons"], run["reasons"]


@pytest.mark.slow
@pytest.mark.parametrize("fault", WEB_FAULTS)
def test_each_fault_of_the_pages_breaks_its_requirement(runs: dict[str, dict[str, str]], fault: str) -> None:
    run = runs[f"fault:{fault}"]
    verdicts = {rid: run[rid] for rid in WEB}
    assert broken(verdicts) == set(FAULTS[fault].breaks), run["reasons"]
    others = {rid: v for rid, v in verdicts.items() if rid not in FAULTS[fault].breaks}
    assert others == dict.fromkeys(others, "PASS"), run["reasons"]
