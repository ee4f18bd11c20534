"""The html driver on page-only portals the team did not write (issue "Page-only portals", 3 and 6).

Both skins of tests/portals/pageportal ("table": UTF-8, labels in table header cells, a top page
with ☰, a masked address, the new address's code asked for only on the answer to "Send"; "sjis": Shift_JIS, dt/dd and wrapping labels, query-string URLs, its
own wording) are started as their author starts them, each with a pool of accounts, the test
clock and its helpdesk command. For each:

- ``ninsho discover`` walks it and writes the site map checked in at
  tests/portals/pageportal/sites/<skin>.toml (equal modulo comments), with nothing left unfound;
- the whole suite through the html driver with that map (``ninsho check --site-map``) has no FAIL
  and no ERROR and exits 0; the rows no check judged are NOT_TESTABLE or have no check yet, and
  the NOT_APPLICABLE ones are those the pages rule out, each with its reason;
- the portal's own fault (``--fault wide-window``: ±3 steps) is a FAIL of TOTP_WINDOW alone.

The runs go two at a time (the machine's cores), each bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests import servers
from tests.harness.report_rows import judged, unjudged
from tests.harness.test_http_harness import PROFILE_NOT_APPLICABLE
from tests.web.support import NINSHO, REPO, cli_env, free_port

SKINS = ("table", "sjis")
SITES = REPO / "tests" / "portals" / "pageportal" / "sites"
PASSWORD = "page-portal-pool-password-01"
POOL = [f"pp{n:04d}" for n in range(1, 9)]
HASH_COST = "4"  # scrypt N = 16 for the pool's passwords: the portal's logins cost nothing
DISCOVER_TIMEOUT = 60.0
SUITE_TIMEOUT = 300.0  # about 100 s a run, two at once, on this 2-core machine
FAULT_TIMEOUT = 120.0
# The test clock's operations take the admin token the JSON binding names; the page portal
# ignores it, but the harness sends one.
ENV = {"NINSHO_TEST_PASSWORD": PASSWORD, "NINSHO_ADMIN_TOKEN": "page-portal-ignores-it"}
# What the pages rule out, and the reason the run gives (docs/html-driver.md).
NOT_APPLICABLE = {
    "TEST_CLOCK_DISABLED_BY_DEFAULT": "this run uses the portal's test clock",
    "BINDING_ERROR_NAMES": "the driver sees no error names (a page-only portal has none: §16.3)",
    **PROFILE_NOT_APPLICABLE,  # iimc resets by code: the reset link's requirements do not apply
}


@dataclass
class PagePortal:
    """``python -m tests.portals.pageportal serve`` in its own process group (tests/servers.py)."""

    workdir: Path
    skin: str
    fault: str | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db = self.workdir / "portal.sqlite"
        self.port = self.smtp_port = 0
        self.server: servers.Server | None = None
        self.log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, attempts: int = 3) -> PagePortal:
        for login_id in POOL:
            self._cli(
                "users", "add", login_id, "--password-env", "NINSHO_TEST_PASSWORD", "--hash-cost", HASH_COST
            )
        for attempt in range(attempts):
            self.port, self.smtp_port = free_port(), free_port()
            command = [sys.executable, "-m", "tests.portals.pageportal", "serve", "--skin", self.skin]
            command += ["--db", str(self.db), "--port", str(self.port), "--smtp-port", str(self.smtp_port)]
            command += ["--test-clock", *(["--fault", self.fault] if self.fault else [])]
            self.log = (self.workdir / "server.log").open("ab")
            self.server = servers.start(
                command, label=f"page portal ({self.skin})", cwd=REPO, env=cli_env(), stdout=self.log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            if self._ready():
                return self
            self.stop()
            if "address already in use" not in self.log_text().lower() or attempt == attempts - 1:
                raise AssertionError(f"the page portal did not start:\n{self.log_text()}")
        raise AssertionError("unreachable")

    def _cli(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "tests.portals.pageportal", *args, "--db", str(self.db)],
            cwd=REPO, env=cli_env(**ENV), capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def _ready(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                assert self.server is not None
                if self.server.process.poll() is not None:
                    return False
                try:
                    if client.get(self.url).status_code < 500:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # polling for readiness, not waiting on portal time
        return False

    def log_text(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=10.0)
            self.server = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def config(self) -> Path:
        """The portal config its operator writes: the pool, its helpdesk command, the sink, the test clock."""
        helpdesk = shlex.join([sys.executable, "-m", "tests.portals.pageportal", "helpdesk", "{login_id}"])
        path = self.workdir / "portal.toml"
        path.write_text(
            f'[portal]\nbase_url = "{self.url}"\ndriver = "html"\nprofile = "iimc"\n'
            f'[accounts]\nprovision = "pool"\npool = {json.dumps(POOL)}\naddress_domain = "example.test"\n'
            'password_env = "NINSHO_TEST_PASSWORD"\n'
            f"[operator]\ncommand = {json.dumps(helpdesk + ' --db ' + shlex.quote(str(self.db)))}\n"
            f'[mailbox]\nkind = "smtp-sink"\nhost = "127.0.0.1"\nport = {self.smtp_port}\n'
            "timeout_seconds = 10\nquiet_seconds = 0.3\n"
            '[clock]\nmode = "test-clock"\n',
            encoding="utf-8",
        )
        return path


@dataclass
class Run:
    status: int
    output: str
    report: dict[str, Any]
    seconds: float

    def verdicts(self) -> dict[str, str]:
        return {row["id"]: row["verdict"] for row in judged(self.report)}

    def reasons(self, rid: str) -> list[str]:
        row = next(r for r in self.report["requirements"] if r["id"] == rid)
        return [str(check.get("reason") or "") for check in row["checks"]]


def ninsho(workdir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``ninsho …`` as a user runs it, bounded by ``timeout`` (the helpdesk command needs the checkout)."""
    try:
        return subprocess.run(
            [NINSHO, *args], cwd=REPO, env=cli_env(**ENV), capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"ninsho {' '.join(args)} took over {timeout:g} s: {exc.stdout!r}") from None


def check(workdir: Path, config: Path, site_map: Path, *select: str, timeout: float) -> Run:
    reports = workdir / "reports"
    started = time.monotonic()
    done = ninsho(workdir, "check", str(config), "--site-map", str(site_map), "-q", "--report-dir", str(reports),
                  *select, timeout=timeout)  # fmt: skip
    output = done.stdout[-6000:] + done.stderr[-3000:]
    report = reports / "ninsho.json"
    assert report.is_file(), f"no report (exit {done.returncode}):\n{output}"
    return Run(done.returncode, output, json.loads(report.read_text("utf-8")), time.monotonic() - started)


@dataclass
class SkinRun:
    discovered: str
    discover_output: str
    discover_seconds: float
    suite: Run


def run_skin(workdir: Path, skin: str) -> SkinRun:
    """Start the skin, discover its site map, run the whole suite with the checked-in one."""
    portal = PagePortal(workdir, skin).start()
    try:
        config = portal.config()
        drafted = workdir / "site.toml"
        started = time.monotonic()
        done = ninsho(workdir, "discover", str(config), "--output", str(drafted), timeout=DISCOVER_TIMEOUT)
        seconds = time.monotonic() - started
        assert done.returncode == 0 and drafted.is_file(), done.stderr
        suite = check(workdir, config, SITES / f"{skin}.toml", timeout=SUITE_TIMEOUT)
        return SkinRun(drafted.read_text("utf-8"), done.stderr, seconds, suite)
    finally:
        portal.stop()


def run_fault(workdir: Path) -> Run:
    portal = PagePortal(workdir, "table", fault="wide-window").start()
    try:
        return check(
            workdir, portal.config(), SITES / "table.toml", "-m", "TOTP_WINDOW", timeout=FAULT_TIMEOUT
        )
    finally:
        portal.stop()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every run of this module, two at a time; each portal is stopped when its run ends."""
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        futures: dict[str, Any] = {
            skin: pool.submit(run_skin, tmp_path_factory.mktemp(f"page-{skin}"), skin) for skin in SKINS
        }
        futures["fault"] = pool.submit(run_fault, tmp_path_factory.mktemp("page-fault"))
        yield {key: future.result() for key, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("skin", SKINS)
def test_discover_writes_the_checked_in_site_map(runs: dict[str, Any], skin: str) -> None:
    run: SkinRun = runs[skin]
    checked_in = (SITES / f"{skin}.toml").read_text("utf-8")
    assert tomllib.loads(run.discovered) == tomllib.loads(checked_in), run.discovered
    assert "not found" not in run.discovered, run.discovered
    assert "0 not found" in run.discover_output, run.discover_output
    assert run.discover_seconds < DISCOVER_TIMEOUT


@pytest.mark.slow
@pytest.mark.parametrize("skin", SKINS)
def test_the_whole_suite_passes_through_the_pages_with_that_map(runs: dict[str, Any], skin: str) -> None:
    run: Run = runs[skin].suite
    verdicts = run.verdicts()
    bad = {rid: v for rid, v in verdicts.items() if v not in ("PASS", "NOT_APPLICABLE")}
    assert not bad, f"{bad}\n{run.output}"
    assert {rid for rid, v in verdicts.items() if v == "NOT_APPLICABLE"} == set(NOT_APPLICABLE), run.output
    for rid, reason in NOT_APPLICABLE.items():
        assert any(reason in given for given in run.reasons(rid)), (rid, run.reasons(rid))
    assert set(unjudged(run.report).values()) <= {"NOT_TESTABLE", "SKIPPED"}
    for row in run.report["requirements"]:
        if not row["checks"] and row["verdict"] == "SKIPPED":
            assert "no check" in row["note"], row
    assert run.status == 0, run.output


@pytest.mark.slow
def test_the_html_driver_fails_the_page_portals_wide_window(runs: dict[str, Any]) -> None:
    run: Run = runs["fault"]
    verdicts = run.verdicts()
    assert {rid for rid, v in verdicts.items() if v == "FAIL"} == {"TOTP_WINDOW"}, run.output
    assert not {rid for rid, v in verdicts.items() if v == "ERROR"}, run.output
    row = next(r for r in run.report["requirements"] if r["id"] == "TOTP_WINDOW")
    assert "-3…+3" in row["measured_text"], row["measured_text"]
    assert run.status == 1, run.output
