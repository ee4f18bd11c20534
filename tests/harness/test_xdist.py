"""``ninsho check -n 2`` (pytest-xdist) judges as one process does (conformance/distributed.py).

- Embedded, with a fault and with a baseline that accepts it: two workers give the same verdict
  per requirement, the same exit status, and the same JSON, HTML, Markdown and JUnit reports
  as ``-n 0``, apart from timings (and the random login ID one check makes up).
- In real time against ``ninsho serve``, with a pool and the harness's SMTP sink: every
  lifetime check PASSes on two workers, each on its own share of the pool, and the two workers'
  waits run at the same time.
- What cannot work on several workers is refused before anything runs, in one line.

``PYTHONHASHSEED`` is fixed for the runs compared, so that nothing that follows the string hash
can tell them apart: a feature scenario's tags come in the order of a set. (The NOT_APPLICABLE
reasons, which once named whichever tag came first, read the IDs sorted now:
``applicability.reason``, tests/harness/test_applicability.py.)
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ninsho.conformance import cli, distributed
from ninsho.conformance.config import PortalConfig
from ninsho.conformance.interfaces import MailTimeout
from ninsho.conformance.mailboxes import SpoolMailbox, file_mail
from tests.harness.report_rows import unjudged
from tests.harness.test_http_harness import (
    ADMIN_TOKEN,
    POOL_PASSWORD,
    REAL_TIME_SELECTION,
    TOKEN_ENV,
    add_accounts,
    harness_server,
    portal_toml,
)
from tests.web.support import NINSHO, cli_env, free_port

RUN_TIMEOUT = 600.0
SELECTION = ("--fault", "wide-window", "-m", "area_totp or area_app")  # TOTP_WINDOW FAILs
BASELINE = '[[expected_failure]]\nrequirement = "TOTP_WINDOW"\nreason = "ticket 1: wide until release 2"\n'
REPORTS = ("ninsho.json", "ninsho.html", "ninsho.md", "junit.xml")
# What differs between two runs of the same checks: when they ran, and how long they took.
TIMINGS = (
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00| UTC)?"), "<time>"),
    (re.compile(r"(Duration(</dt><dd>|\*\* ))[0-9.]+ s"), r"\1<seconds> s"),
    (re.compile(r"login_id=\S+"), "login_id=<id>"),  # test_unknown_login_id_is_throttled's random ID
)


@dataclass
class Done:
    status: int
    folder: Path
    output: str

    def report(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.folder / "ninsho.json").read_text("utf-8"))
        return document

    def verdicts(self) -> dict[str, str]:
        return {row["id"]: row["verdict"] for row in self.report()["requirements"]}


def check(workdir: Path, workers: str, *argv: str, env: dict[str, str] | None = None) -> Done:
    """``ninsho check ARGV -n WORKERS -q`` in WORKDIR, the reports in ``reports/`` there (the
    same relative folder for every run: the Markdown names it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [NINSHO, "check", *argv, "-n", workers, "-q", "--report-dir", "reports"],
        cwd=workdir,
        env=env or cli_env(PYTHONHASHSEED="0"),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return Done(
        done.returncode, workdir / "reports", done.stdout[:500] + done.stdout[-5000:] + done.stderr[-3000:]
    )


def without_timings(text: str) -> str:
    for pattern, replacement in TIMINGS:
        text = pattern.sub(replacement, text)
    return text


def json_content(done: Done) -> dict[str, Any]:
    document = done.report()
    del document["generated_at"]
    for key in ("started_at", "duration_seconds"):
        del document["run"][key]
    result: dict[str, Any] = json.loads(without_timings(json.dumps(document, ensure_ascii=False)))
    return result


def first_difference(a: Any, b: Any, where: str = "") -> str:
    """Where two JSON documents first differ, for the failure message."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return first_difference(a.get(key), b.get(key), f"{where}/{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{where}[{index}]")
    return f"{where}: {a!r:.300} (-n 0) != {b!r:.300} (-n 2)"


def junit_content(done: Done) -> tuple[Any, ...]:
    """The suite's name and properties, and each test case's properties and outcome, in any order
    (the workers finish their cases in their own order)."""
    suite = ET.parse(done.folder / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    counts = {
        k: v for k, v in suite.attrib.items() if k in ("name", "tests", "failures", "errors", "skipped")
    }
    properties = [(p.get("name"), p.get("value")) for p in suite.iterfind("properties/property")]
    cases = sorted(
        (
            str(case.get("classname")),
            str(case.get("name")),
            [(str(p.get("name")), str(p.get("value"))) for p in case.iterfind("properties/property")],
            sorted(child.tag for child in case if child.tag != "properties"),
        )
        for case in suite.iter("testcase")
    )
    return counts, properties, cases


@pytest.mark.parametrize("baseline", [False, True], ids=["fault", "fault-baselined"])
def test_two_workers_report_as_one_process(tmp_path: Path, baseline: bool) -> None:
    argv: tuple[str, ...] = SELECTION
    if baseline:
        (tmp_path / "baseline.toml").write_text(BASELINE, encoding="utf-8")
        argv += ("--baseline", str(tmp_path / "baseline.toml"))
    single, two = check(tmp_path / "n0", "0", *argv), check(tmp_path / "n2", "2", *argv)
    assert "bringing up nodes" in two.output and "bringing up nodes" not in single.output, two.output
    assert (single.status, two.status) == ((0, 0) if baseline else (1, 1)), single.output + two.output
    assert two.verdicts() == single.verdicts(), two.output
    assert single.verdicts()["TOTP_WINDOW"] == "FAIL"
    unjudged(two.report())  # the checks not selected say so, from the workers' collections
    for name in REPORTS:
        assert (two.folder / name).is_file(), f"-n 2 wrote no {name}"
    single_json, two_json = json_content(single), json_content(two)
    assert two_json == single_json, first_difference(single_json, two_json)
    for name in ("ninsho.html", "ninsho.md"):
        read = [without_timings((done.folder / name).read_text("utf-8")) for done in (single, two)]
        assert read[1] == read[0], name
    assert junit_content(two) == junit_content(single)


def test_minus_n_loads_xdist_only_for_workers() -> None:
    """Without ``-n`` (or with ``-n 0``) the single process runs as ever, without xdist loaded;
    a list or a dry run runs no check, so it takes no workers."""

    def argv(*given: str) -> list[str]:
        return cli.pytest_args(cli.parser().parse_args(list(given)), [])

    assert "xdist" not in argv() and "-n" not in argv()
    assert "xdist" not in argv("-n", "0") and "-n" not in argv("-n", "0")
    assert " -p xdist -n 2 " in " ".join(["", *argv("-n", "2"), ""])
    assert "-n" not in argv("--list", "-n", "2") and "-n" not in argv("--dry-run", "-n", "auto")
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["-n", "two"])


def test_workers_share_the_pool_without_overlap(pytester: pytest.Pytester) -> None:
    """Each worker leases only its share of ``[accounts] pool``: no account goes to two."""
    portal = PortalConfig(driver="json", provision="pool", pool=tuple(f"pool{i}" for i in range(5)))
    shares = []
    for share in range(2):
        config = pytester.parseconfig()
        config.workerinput = {"workerid": f"gw{share}", "workercount": 2, distributed.SHARE: share}  # type: ignore[attr-defined]
        shares.append(distributed.configure(config, portal, lambda session, items: None).pool)
    assert shares == [("pool0", "pool2", "pool4"), ("pool1", "pool3")]


def test_a_worker_reads_the_mail_the_controller_filed(tmp_path: Path) -> None:
    """The SMTP sink is the controller's: a worker finds a mail filed before it looks at once,
    dated on its own clock by how long ago it arrived, and one filed later as it comes."""
    now = [1000.0]
    mailbox = SpoolMailbox(tmp_path, lambda: now[0])
    try:
        raw = b"From: portal@example.test\r\nTo: ann@example.test\r\nSubject: code\r\n\r\n12345678\r\n"
        file_mail(tmp_path, raw, ["ann@example.test"])
        mail = mailbox.wait_for("ann@example.test", since=999.0, timeout=0.0)
        assert (mail.subject, mail.body.strip()) == ("code", "12345678")
        assert 999.0 < mail.received_at <= 1000.0
        with pytest.raises(MailTimeout, match=re.escape("no mail to bob@example.test")):
            mailbox.wait_for("bob@example.test", since=999.0, timeout=0.2)
    finally:
        mailbox.close()


class LanelessClock:
    """A portal whose test clock keeps one offset (no "lanes", spec/protocol.md §17): its
    ``GET /api/v1/test-clock`` answers, every other path is 404; on 127.0.0.1, stopped after."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == "/api/v1/test-clock"
                body = json.dumps({"now": time.time(), "offset_seconds": 0}).encode() if found else b"{}"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="laneless-clock", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def laneless() -> Iterator[LanelessClock]:
    portal = LanelessClock()
    try:
        yield portal
    finally:
        portal.stop()


@pytest.mark.parametrize(
    ("clock", "pool", "refusal"),
    [
        ("test-clock", 4, "the portal's test clock is one clock for the whole portal (it keeps no lanes"),
        ("real", 1, "2 workers need at least 2 pool accounts, one each ([accounts] pool lists 1)"),
    ],
)
def test_what_two_workers_cannot_share_is_refused(
    tmp_path: Path, clock: str, pool: int, refusal: str, laneless: LanelessClock
) -> None:
    config = tmp_path / "portal.toml"
    config.write_text(
        f'[portal]\nbase_url = "{laneless.url}"\ndriver = "json"\n'
        f'[accounts]\nprovision = "pool"\npool = {json.dumps([f"p{i}" for i in range(pool)])}\n'
        f'[mailbox]\nkind = "smtp-sink"\nport = {free_port()}\n'
        f'[clock]\nmode = "{clock}"\n',
        encoding="utf-8",
    )
    env = cli_env(NINSHO_TEST_PASSWORD="pw", NINSHO_ADMIN_TOKEN="token")
    done = check(tmp_path, "2", str(config), env=env)
    assert done.status == 4, done.output
    assert f"-n: {refusal}" in done.output and "Traceback" not in done.output, done.output


@pytest.mark.slow
def test_real_time_on_two_workers(tmp_path: Path) -> None:
    """Against a portal without a test clock: the lifetime checks PASS on two workers, each
    leasing from its own share of a pool and reading the mail the controller's sink took, and
    the two workers wait at the same time (the run takes less than their waits one after the
    other)."""
    server = harness_server(tmp_path / "server", profile="fast-test", test_clock=False).start()
    try:
        pool = [f"pool{i:04d}" for i in range(4)]
        add_accounts(server, pool, POOL_PASSWORD)
        config = portal_toml(
            tmp_path / "portal.toml",
            server,
            "json",
            provision="pool",
            clock="real",
            pool=pool,
            profile="fast-test",
        )
        env = cli_env(**{TOKEN_ENV: ADMIN_TOKEN, "NINSHO_TEST_PASSWORD": POOL_PASSWORD})
        done = check(tmp_path / "run", "2", str(config), *REAL_TIME_SELECTION, env=env)
    finally:
        server.stop()
    assert done.status == 0, done.output
    judged = {rid: v for rid, v in done.verdicts().items() if rid not in unjudged(done.report())}
    assert judged and set(judged.values()) == {"PASS"}, done.output
    timing = done.report()["real_time"]
    assert timing["wall_seconds"] >= timing["longest_seconds"], "a wait was cut short"
    spans = re.search(
        r"real-time waits on 2 workers: gw0 (\d+) waits from ([0-9.]+) s to ([0-9.]+) s; "
        r"gw1 (\d+) waits from ([0-9.]+) s to ([0-9.]+) s",
        done.output,
    )
    assert spans is not None, done.output
    began, ended = (float(spans[2]), float(spans[5])), (float(spans[3]), float(spans[6]))
    assert int(spans[1]) and int(spans[4]), "a worker waited for nothing: the shares are not both real-time"
    # Each began before the other ended: they waited at once, not one after the other.
    assert began[0] < ended[1] and began[1] < ended[0], done.output


@pytest.mark.slow
def test_a_test_clock_run_on_two_workers_judges_as_one(tmp_path: Path) -> None:
    """Against ``ninsho serve --test-clock``, whose clock keeps lanes (spec/protocol.md §17): two
    workers each move their own lane, the portal's own offset stays where it was, and the
    verdicts are those of the same run in one process."""
    server = harness_server(tmp_path / "server").start()
    selection = ("-m", "TOTP_WINDOW or EMAIL_OTP_LIFETIME or LOCKOUT_DURATION or TRUST_BROWSER_EXPIRY")
    try:
        config = portal_toml(tmp_path / "portal.toml", server, "json")
        env = cli_env(**{TOKEN_ENV: ADMIN_TOKEN})
        two = check(tmp_path / "two", "2", str(config), *selection, env=env)
        own = httpx.get(server.url + "/api/v1/test-clock", timeout=10).json()
        one = check(tmp_path / "one", "0", str(config), *selection, env=env)
        moved = httpx.get(server.url + "/api/v1/test-clock", timeout=10).json()
    finally:
        server.stop()
    assert (two.status, one.status) == (0, 0), two.output + one.output
    assert two.verdicts() == one.verdicts(), (two.verdicts(), one.verdicts())
    judged = {rid: v for rid, v in one.verdicts().items() if rid not in unjudged(one.report())}
    assert {"TOTP_WINDOW", "EMAIL_OTP_LIFETIME", "LOCKOUT_DURATION"} <= {
        r for r, v in judged.items() if v == "PASS"
    }
    assert own["offset_seconds"] == 0, "the workers moved the portal's own clock, not their lanes"
    assert moved["offset_seconds"] > 0, (
        "the run in one process moved no clock: the check above proves nothing"
    )


def test_the_scenarios_with_fixed_addresses_share_one_worker() -> None:
    """The manuals' scenarios mail fixed addresses (taro@gmail.com): on two workers at once they
    would mail one address from two lanes. They all go to the first share; the checks, whose
    addresses are their accounts' own, are dealt round."""
    ids = [f"test_features.py::test_s{i}" for i in range(5)] + [f"test_totp.py::test_c{i}" for i in range(6)]
    shares = [
        [nodeid for i, nodeid in enumerate(ids) if distributed.in_share(nodeid, i, s, 2)] for s in (0, 1)
    ]
    assert all(n in shares[0] for n in ids[:5]) and not any("test_features" in n for n in shares[1])
    assert sorted(shares[0] + shares[1]) == sorted(ids) and len(shares[1]) == 3
