"""The pre-flight and the start of a run: a broken set-up is one line and no check runs; no
report of an earlier run survives a run that did not start."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ninsho.conformance.config import PortalConfig
from ninsho.conformance.errors import ConfigError, DriverError
from ninsho.conformance.interfaces import Account, Outcome
from ninsho.conformance.preflight import EXIT_ERROR, EXIT_USAGE, preflight
from ninsho.conformance.target import Target
from ninsho.spec.registry import load_profile
from tests.harness.test_http_harness import TOKEN_ENV, harness_server, portal_toml
from tests.web.support import NINSHO, cli_env

STALE_JUNIT = "<testsuites><!-- an earlier run --></testsuites>"


@dataclass
class Parts:
    """Stand-ins for a connection's parts, each able to fail as a real one does."""

    clock_error: Exception | None = None
    operator_error: Exception | None = None
    refused_logins: set[str] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)
    kind: str = "real"

    def now(self) -> float:
        if self.clock_error:
            raise self.clock_error
        return 1000.0

    def advance(self, seconds: float) -> None:  # the Clock protocol; the pre-flight never waits
        raise AssertionError("the pre-flight must not wait")

    def preflight(self) -> None:
        if self.operator_error:
            raise self.operator_error


class Browser:
    name = "fake"

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def login(self, account: Account) -> Outcome:
        self.parts.logins.append(account.login_id)
        refused = account.login_id in self.parts.refused_logins
        return Outcome(ok=not refused, error="authentication_failed" if refused else None)

    def logout(self) -> Outcome:
        return Outcome(ok=True)


def target(parts: Parts) -> Target:
    return Target(
        profile=load_profile("iimc"),
        operator=parts,  # type: ignore[arg-type]  # the parts stand in for each protocol
        mailbox=parts,  # type: ignore[arg-type]
        clock=parts,
        new_driver=lambda: Browser(parts),  # type: ignore[arg-type,return-value]
    )


POOL = PortalConfig(base_url="https://portal.test", driver="json", provision="pool", pool=("qa1", "qa2"))


def test_a_working_set_up_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINSHO_TEST_PASSWORD", "pw")
    parts = Parts()
    assert preflight(target(parts), POOL) is None
    assert parts.logins == ["qa1", "qa2"], "every pool account's password is tried once"


def test_an_unreachable_portal_is_an_error() -> None:
    problem = preflight(target(Parts(clock_error=DriverError("connection refused"))), PortalConfig())
    assert problem is not None and problem.status == EXIT_ERROR
    assert problem.line() == "pre-flight: the portal and its clock: connection refused"


def test_refused_credentials_are_for_the_user_to_fix() -> None:
    refused = ConfigError("admin.token_env", "the portal's admin API refused the token")
    problem = preflight(target(Parts(operator_error=refused)), PortalConfig())
    assert problem is not None and problem.status == EXIT_USAGE
    assert "admin.token_env" in problem.line() and problem.step == "the operator"


def test_a_pool_password_that_does_not_work_names_the_accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINSHO_TEST_PASSWORD", "pw")
    problem = preflight(target(Parts(refused_logins={"qa2"})), POOL)
    assert problem is not None and problem.status == EXIT_USAGE
    assert "qa2" in problem.line() and "qa1" not in problem.line()
    assert "$NINSHO_TEST_PASSWORD" in problem.line()


def stale_reports(folder: Path) -> None:
    """What a previous green run left behind."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ninsho.json").write_text(json.dumps({"requirements": [{"id": "X", "verdict": "PASS"}]}))
    (folder / "ninsho.html").write_text("<p>all green</p>")
    (folder / "junit.xml").write_text(STALE_JUNIT)


def check(workdir: Path, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NINSHO, "check", *argv], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )


def not_started(reports: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((reports / "ninsho.json").read_text("utf-8"))
    assert document["started"] is False and document["requirements"] == []
    assert "did not start" in (reports / "ninsho.html").read_text("utf-8")
    junit = reports / "junit.xml"
    assert not junit.exists() or junit.read_text("utf-8") != STALE_JUNIT, "a stale JUnit report survived"
    return document


@pytest.mark.slow
def test_a_wrong_admin_token_stops_the_run_before_any_check(tmp_path: Path) -> None:
    server = harness_server(tmp_path).start()
    try:
        config = portal_toml(tmp_path / "portal.toml", server, "json")
        reports = tmp_path / "reports"
        stale_reports(reports)
        done = check(tmp_path, str(config), "--report-dir", str(reports), env=cli_env(**{TOKEN_ENV: "wrong"}))
    finally:
        server.stop()
    output = done.stdout + done.stderr
    assert done.returncode in (EXIT_USAGE, EXIT_ERROR), output
    assert "token" in output and "Traceback" not in output, output
    assert " passed" not in output and " failed" not in output, "a check ran"
    assert "token" in not_started(reports)["error"]


@pytest.mark.slow
def test_a_bad_config_removes_stale_reports_and_says_the_run_did_not_start(tmp_path: Path) -> None:
    (tmp_path / "portal.toml").write_text('[portal]\ndriver = "nope"\nbase_url = "http://127.0.0.1:9"\n')
    reports = tmp_path / "reports"
    stale_reports(reports)
    done = check(tmp_path, "portal.toml", "--report-dir", str(reports), env=cli_env())
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert "nope" in not_started(reports)["error"]
