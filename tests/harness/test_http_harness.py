"""The harness over real HTTP: ``ninsho serve`` in a subprocess, the harness's SMTP sink, the
portal's test clock, and the bundled checks run by pytest as a user runs them.

- The JSON driver and the HTML driver each PASS every requirement against the correct reference;
  the HTML driver has the NOT_APPLICABLE listed in :data:`HTML_NOT_APPLICABLE`, each with its reason.
- The JSON driver FAILs exactly the requirements that ``ninsho serve --fault NAME`` breaks.
- With ``provision = "pool"`` and ``clock = "real"`` the HTML driver requests pages only: the
  server's access log shows no ``/api/`` request (a portal with pages only has no API).

Each run has its own server, test clock and SMTP port, so the runs go concurrently: the module
lasts about as long as its longest run (the HTML driver's), not the sum of them. The runs are
``python -m pytest --pyargs conformance.checks --portal FILE`` subprocesses rather than
``pytester.runpytest_subprocess`` (the same command) because pytester runs one at a time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.config import ENVIRONMENT, load
from conformance.drivers.html import connect
from conformance.interfaces import Account
from reference.faults import FAULTS
from reference.spec import load_profile, requirements

pytestmark = pytest.mark.slow

TOKEN_ENV = "NINSHO_HTTP_HARNESS_TOKEN"
ADMIN_TOKEN = "http-harness-admin-token-0123456789"
START_TIMEOUT = 30.0
RUN_TIMEOUT = 300.0
MAIL_TIMEOUT = 10.0
FAULTS_OVER_HTTP = ("wide-window", "no-replay-protection")

# What the HTML driver cannot judge on the reference's pages, and the reason it gives. After a
# new reset login the pages lead to "Initialize" (which mails a new code), never back to the
# Confirm Code field, so a code mailed earlier cannot be entered: the two checks that re-login
# before entering an earlier code do not apply. The JSON API can, and PASSes them.
HTML_NOT_APPLICABLE = {
    "RESET_CODE_LIFETIME": "the pages show the Confirm Code field only right after Initialize or Resend",
    "RESET_CODE_SINGLE_USE": "the pages show the Confirm Code field only right after Initialize or Resend",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """No NINSHO_* override and no PYTEST_ADDOPTS from the outer run leaks into a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NINSHO_") and k != "PYTEST_ADDOPTS"}
    env.update(extra)
    return env


class Server:
    """``ninsho serve`` on 127.0.0.1 with the test clock, relaying mail to ``smtp_port``."""

    def __init__(self, workdir: Path, fault: str | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir, self.fault = workdir, fault
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = self.smtp_port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3) -> Server:
        """A port taken between choosing and binding it gets another try."""
        for _ in range(attempts):
            self.port, self.smtp_port = free_port(), free_port()
            args = [
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--db",
                str(self.workdir / "n.sqlite"),
            ]
            args += ["--smtp", f"127.0.0.1:{self.smtp_port}", "--test-clock", "--admin-token-env", TOKEN_ENV]
            args += ["--hash-cost", "4", "--log-level", "info"]
            args += ["--fault", self.fault] if self.fault else []
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "reference.cli", *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=clean_env(**{TOKEN_ENV: ADMIN_TOKEN}),
                )
            if self._ready():
                return self
            self.stop()
            if "address already in use" not in self.log().lower():
                break
        raise AssertionError(f"ninsho serve did not start:\n{self.log()[-3000:]}")

    def _ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if client.get(self.url + "/healthz").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # polling for readiness, not waiting on portal time
        return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def portal_toml(
    path: Path,
    server: Server,
    driver: str,
    *,
    provision: str = "admin-api",
    clock: str = "test-clock",
    pool: str = "",
) -> Path:
    """The portal config a user writes: ``pool`` is a login ID for ``provision = "pool"``."""
    accounts = f'provision = "{provision}"\n' + (
        f'pool = ["{pool}"]\naddress_domain = "example.test"\n' if pool else ""
    )
    path.write_text(
        f'[portal]\nbase_url = "{server.url}"\ndriver = "{driver}"\nprofile = "iimc"\n'
        f'[accounts]\n{accounts}password_env = "NINSHO_TEST_PASSWORD"\n'
        f'[admin]\ntoken_env = "{TOKEN_ENV}"\n'
        f'[mailbox]\nkind = "smtp-sink"\nhost = "127.0.0.1"\nport = {server.smtp_port}\n'
        f"timeout_seconds = {MAIL_TIMEOUT}\n"
        f'[clock]\nmode = "{clock}"\n',
        encoding="utf-8",
    )
    return path


@dataclass
class Run:
    """One harness run: its exit status, its verdict per requirement, and what it printed."""

    status: int
    verdicts: dict[str, str]
    reasons: dict[str, list[str]]
    output: str

    def not_passed(self) -> dict[str, str]:
        return {rid: verdict for rid, verdict in self.verdicts.items() if verdict != "PASS"}


def run_harness(workdir: Path, server: Server, driver: str) -> Run:
    """The bundled checks against ``server`` through ``driver``, as ``ninsho check`` runs them."""
    config = portal_toml(workdir / "portal.toml", server, driver)
    report = workdir / "ninsho.json"
    command = [sys.executable, "-m", "pytest", "--pyargs", "conformance.checks", "--portal", str(config)]
    command += ["--ninsho-json", str(report), "-p", "no:cacheprovider", "-q"]
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            env=clean_env(**{TOKEN_ENV: ADMIN_TOKEN}),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the {driver} run took over {RUN_TIMEOUT} s:\n{exc.stdout!r}") from None
    output = done.stdout[-6000:] + done.stderr[-3000:]
    assert report.is_file(), f"no report from the {driver} run (exit {done.returncode}):\n{output}"
    document: dict[str, Any] = json.loads(report.read_text("utf-8"))
    rows = document["requirements"]
    return Run(
        done.returncode,
        {row["id"]: row["verdict"] for row in rows},
        {row["id"]: [str(check.get("reason") or "") for check in row["checks"]] for row in rows},
        output,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every run of this module, concurrently, each against its own server; all stopped after."""
    plan: dict[str, tuple[str, str | None]] = {"json": ("json", None), "html": ("html", None)}
    plan |= {f"fault:{name}": ("json", name) for name in FAULTS_OVER_HTTP}
    servers: list[Server] = []
    try:
        started = {}
        for key, (driver, fault) in plan.items():
            server = Server(tmp_path_factory.mktemp(key.replace(":", "-")), fault)
            servers.append(server)
            started[key] = (server.start(), driver)
        with ThreadPoolExecutor(max_workers=len(started)) as pool:
            futures = {key: pool.submit(run_harness, s.workdir, s, d) for key, (s, d) in started.items()}
            yield {key: future.result() for key, future in futures.items()}
    finally:
        for server in servers:
            server.stop()


def test_json_driver_passes_every_requirement(runs: dict[str, Run]) -> None:
    run = runs["json"]
    assert run.verdicts and set(run.verdicts) <= set(requirements()), run.output
    assert not run.not_passed(), run.output
    assert run.status == 0, run.output


def test_html_driver_passes_every_requirement_it_can_see(runs: dict[str, Run]) -> None:
    run = runs["html"]
    assert set(run.verdicts) == set(runs["json"].verdicts), "both drivers run the same checks"
    assert run.not_passed() == dict.fromkeys(HTML_NOT_APPLICABLE, "NOT_APPLICABLE"), run.output
    for rid, reason in HTML_NOT_APPLICABLE.items():
        assert any(reason in given for given in run.reasons[rid]), (rid, run.reasons[rid])
    assert run.status == 0, run.output


@pytest.mark.parametrize("fault", FAULTS_OVER_HTTP)
def test_faulty_server_fails_exactly_its_requirements(runs: dict[str, Run], fault: str) -> None:
    run = runs[f"fault:{fault}"]
    failed = {rid for rid, verdict in run.verdicts.items() if verdict == "FAIL"}
    assert failed == set(FAULTS[fault].breaks), f"{fault}: {FAULTS[fault].description}\n{run.output}"
    others = {rid: v for rid, v in run.not_passed().items() if rid not in failed}
    assert not others, f"{fault} disturbed other verdicts: {others}"
    assert run.status == 1, run.output


def test_pages_only_config_requests_no_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``provision = "pool"`` and ``clock = "real"``: set-up by mail through the pages, and the
    server's access log shows page requests and not one ``/api/`` request from the harness."""
    server = Server(tmp_path / "server").start()
    try:
        login_id, password = "pool0001", "pool-password-0123456789"
        created = httpx.post(
            server.url + "/api/v1/admin/users",
            json={"login_id": login_id, "password": password},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        for name in ENVIRONMENT:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("NINSHO_TEST_PASSWORD", password)
        config_file = portal_toml(
            tmp_path / "portal.toml", server, "html", provision="pool", clock="real", pool=login_id
        )
        config = load(config_file, environ={})
        assert (config.provision, config.clock, config.driver) == ("pool", "real", "html")
        before = len(server.log())
        connection = connect(config, load_profile(config.profile))
        try:
            target = connection.target()
            assert target.clock.kind == "real"
            account: Account = target.account()
            browser = target.browser()
            login = browser.login(account)
            assert (login.ok, login.stage) == (True, "setup"), login
            since = target.clock.now()
            assert account.address is not None
            sent = browser.register_email(account.address)
            assert sent.ok and sent.data.get("address") == account.address, sent
            mail = target.mail(account.address, target.profile.mail_subject_otp, since)
            confirmed = browser.confirm_email(mail.code(target.profile.email_otp_digits) or "")
            assert (confirmed.ok, confirmed.stage, confirmed.data.get("address")) == (
                True,
                "authenticated",
                account.address,
            ), confirmed
            assert browser.logout().ok
        finally:
            connection.close()
        requests = [line for line in server.log()[before:].splitlines() if "HTTP/1.1" in line]
        assert any('"POST /settings/email/confirm ' in line for line in requests), requests
        assert not [line for line in requests if "/api/" in line]
    finally:
        server.stop()
