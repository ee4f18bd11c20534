"""``[operator] command``: the helpdesk checks through an operator's command, for a portal with
no operator API (issue "Staging-ready runs", item 2)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from ninsho.conformance.errors import ConfigError, DriverError, NotApplicable
from ninsho.conformance.helpdesk import CommandHelpdesk
from tests.harness.test_http_harness import (
    ADMIN_TOKEN,
    POOL_PASSWORD,
    TOKEN_ENV,
    add_accounts,
    harness_server,
    ninsho_check,
    portal_toml,
)
from tests.web.support import NINSHO, cli_env

PYTHON = shlex.quote(sys.executable)


def helpdesk(script: str, digits: int = 8) -> CommandHelpdesk:
    return CommandHelpdesk(f"{PYTHON} -c {shlex.quote(script)} {{login_id}}", digits, timeout=20)


def test_the_code_is_read_from_standard_output() -> None:
    issued = helpdesk("import sys; print('code for', sys.argv[1], ': 01234567')").helpdesk_code("qa0001")
    assert (issued.ok, issued.data) == (True, {"code": "01234567"})


def test_a_refusal_is_the_helpdesks_answer_not_an_error() -> None:
    """No reset pending: the helpdesk says no (HELPDESK_PENDING_ONLY judges that answer)."""
    refused = helpdesk("import sys; sys.exit('no pending reset for ' + sys.argv[1])").helpdesk_code("qa9")
    assert (refused.ok, refused.error) == (False, "helpdesk_refused")
    assert refused.message_en == "no pending reset for qa9"


def test_the_login_id_is_one_word_and_never_reaches_a_shell() -> None:
    echo = helpdesk("import json, sys; print(json.dumps(sys.argv[1:]), '12345678')")
    assert echo.argv("a; rm -rf /")[-1] == "a; rm -rf /"
    done = echo.helpdesk_code("a; touch /tmp/ninsho-injected")
    assert done.ok and not Path("/tmp/ninsho-injected").exists()


@pytest.mark.parametrize(
    ("script", "words"),
    [("print('no code here')", "printed 0"), ("print('12345678 87654321')", "printed 2")],
)
def test_anything_but_one_code_is_an_error(script: str, words: str) -> None:
    with pytest.raises(DriverError, match=words):
        helpdesk(script).helpdesk_code("qa0001")


def test_a_command_that_hangs_or_is_missing_is_an_error() -> None:
    slow = CommandHelpdesk(f"{PYTHON} -c 'import time; time.sleep(30)' {{login_id}}", 8, timeout=0.5)
    with pytest.raises(DriverError, match=r"did not finish in 0\.5 s"):
        slow.helpdesk_code("qa0001")
    missing = CommandHelpdesk("no-such-portalctl helpdesk {login_id}", 8)
    with pytest.raises(DriverError, match="not found"):
        missing.helpdesk_code("qa0001")
    with pytest.raises(ConfigError, match="not a command"):
        missing.preflight()


@pytest.mark.parametrize("template", ["portalctl helpdesk", "portalctl 'unclosed {login_id}", ""])
def test_a_bad_template_is_refused_with_its_key(template: str) -> None:
    with pytest.raises(ConfigError, match=r"\[operator\.command\]"):
        CommandHelpdesk(template, 8)


@pytest.mark.slow
def test_the_helpdesk_checks_run_through_the_command(tmp_path: Path) -> None:
    """A pool of accounts and no operator API: the helpdesk checks are judged, not NOT_APPLICABLE.
    The command is the reference's own operator CLI on the server's database."""
    server = harness_server(tmp_path / "server").start()
    try:
        pool = [f"pool{n:04d}" for n in range(1, 7)]
        add_accounts(server, pool, POOL_PASSWORD)
        command = f"{NINSHO} helpdesk issue-code {{login_id}} --db {server.db}"
        config = portal_toml(
            tmp_path / "portal.toml", server, "json", provision="pool", pool=pool, operator=command
        )
        env = cli_env(**{TOKEN_ENV: ADMIN_TOKEN, "NINSHO_TEST_PASSWORD": POOL_PASSWORD})
        run = ninsho_check(tmp_path, str(config), "-m", "HELPDESK_ISSUES_CODE", env=env)
    finally:
        server.stop()
    verdicts = run.verdicts()
    assert verdicts["HELPDESK_ISSUES_CODE"] == verdicts["HELPDESK_PENDING_ONLY"] == "PASS", run.output
    assert run.status == 0, run.output


def test_the_confirm_command_exits_0_to_confirm() -> None:
    """Link mode's center (``[operator] confirm_command``, protocol.md §19.5): exit 0 is the
    confirm done; another status is the center's refusal, with its reason."""
    script = "import sys; sys.exit(0 if sys.argv[1] == 'qa1' else 'no pending reset')"
    confirm = f"{PYTHON} -c {shlex.quote(script)} {{login_id}}"
    center = CommandHelpdesk(None, 8, timeout=20, confirm=confirm)
    assert center.helpdesk_confirm("qa1").ok
    refused = center.helpdesk_confirm("qa2")
    assert (refused.ok, refused.error, refused.message_en) == (False, "helpdesk_refused", "no pending reset")
    with pytest.raises(NotApplicable, match=r"no \[operator\] command"):
        center.helpdesk_code("qa1")  # this helpdesk confirms; it issues no codes
    with pytest.raises(NotApplicable, match=r"no \[operator\] confirm_command"):
        helpdesk("print('12345678')").helpdesk_confirm("qa1")
    with pytest.raises(ConfigError, match=r"\[operator\.confirm_command\]"):
        CommandHelpdesk(None, 8, confirm="portalctl helpdesk confirm")


@pytest.mark.slow
@pytest.mark.parametrize("configured", [True, False], ids=["confirm_command", "no_helpdesk_action"])
def test_the_link_modes_center_runs_through_its_command(tmp_path: Path, configured: bool) -> None:
    """The 2021 portal (iimc-2021), a pool and no operator API: with ``[operator]
    confirm_command`` (the reference's ``ninsho helpdesk confirm``) the center's checks are
    judged, and the pool puts its accounts back by link or by the center; without it they are
    NOT_APPLICABLE, saying which key is missing, and never ERROR."""
    server = harness_server(tmp_path / "server", profile="iimc-2021").start()
    try:
        pool = [f"pool{n:04d}" for n in range(1, 7)]
        add_accounts(server, pool, POOL_PASSWORD)
        config = portal_toml(
            tmp_path / "portal.toml", server, "json", provision="pool", pool=pool, profile="iimc-2021"
        )
        if configured:
            command = f"{NINSHO} helpdesk confirm {{login_id}} --db {server.db} --profile iimc-2021"
            with config.open("a", encoding="utf-8") as out:
                out.write(f"[operator]\nconfirm_command = {json.dumps(command)}\n")
        env = cli_env(**{TOKEN_ENV: ADMIN_TOKEN, "NINSHO_TEST_PASSWORD": POOL_PASSWORD})
        run = ninsho_check(tmp_path, str(config), "-m", "RESET_LINK_HELPDESK_CONFIRM", env=env)
    finally:
        server.stop()
    row = run.rows()["RESET_LINK_HELPDESK_CONFIRM"]
    if configured:
        assert row["verdict"] == "PASS", run.output
        assert run.status == 0, run.output
    else:
        assert row["verdict"] == "NOT_APPLICABLE", run.output
        reasons = [str(check.get("reason") or "") for check in row["checks"]]
        assert all("confirm_command" in why for why in reasons), reasons
        assert "ERROR" not in run.verdicts().values(), run.output
