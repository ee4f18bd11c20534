"""A CLI that explains itself: ``--help`` lists the exit statuses, the variables, the keys and the
``--`` passthrough; a typo gets "did you mean"; every start-up error is one line with no pytest
internals; a local bind failure is named as local; no raw HTML reaches a message; bad input
(an unwritable report folder, a bad baseline, full-width digits, a byte order mark) gets one
clear line."""

from __future__ import annotations

import errno
import socket
import subprocess
from pathlib import Path

import pytest

from ninsho.conformance import cli
from ninsho.conformance.config import ENVIRONMENT, ConfigError, keys, load, secret_variables
from ninsho.conformance.errors import LocalError
from ninsho.conformance.mailboxes import SmtpSinkMailbox
from ninsho.conformance.messages import did_you_mean, one_line
from ninsho.conformance.results import Baseline
from ninsho.conformance.selection import check_marker_expression, unknown_requirements
from ninsho.spec.registry import requirements
from tests.web.support import NINSHO

CHECKS = ["--pyargs", "ninsho.conformance.checks", "-p", "no:cacheprovider"]
LEVELS = ("MUST", "SHOULD", "MAY")


def ninsho_check(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NINSHO, "check", "-q", *argv], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


# --- --help --------------------------------------------------------------------------------
def test_help_lists_exit_statuses_variables_keys_and_the_passthrough() -> None:
    text = cli.parser().format_help()
    for code in ("0", "1", "2", "4", "6", "7"):
        assert f"\n  {code}  " in text, code
    for name in [*ENVIRONMENT, *secret_variables()]:
        assert name in text, name
    for section, names in keys().items():
        if section != "html":
            assert f"[{section}] " + ", ".join(names) in text, section
    assert "docs/html-driver.md" in text, "the html driver's keys are documented there"
    assert "after -- goes to pytest" in text and "--tb" in text
    assert "conformance/config.py" not in text, "help should not send a user to the source"


def test_documents_named_in_help_exist() -> None:
    root = Path(__file__).resolve().parents[2]
    for named in ("README.md", "docs/staging.md"):
        assert (root / named).is_file(), named


# --- typos ---------------------------------------------------------------------------------
def test_an_unknown_requirement_in_m_names_it_and_the_nearest() -> None:
    registered = requirements()
    with pytest.raises(
        ConfigError, match=r"TOTP_WINDOWS is not a registered requirement; did you mean 'TOTP_WINDOW'"
    ):
        check_marker_expression("TOTP_WINDOWS", registered, LEVELS, [])
    for fine in ("TOTP_WINDOW or MUST", "area_totp", "not slow", "SHOULD and not MUST", "LOGOUT", "(MUST)"):
        check_marker_expression(fine, registered, LEVELS, ["slow"])
    assert unknown_requirements("MY_SUITE or TOTP_REPLAYY", registered, ["MY_SUITE"]) == ["TOTP_REPLAYY"]


def test_an_unknown_requirement_in_m_stops_the_run_with_status_4(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*CHECKS, "-m", "TOTP_WINDOWS or MUST")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: -m: TOTP_WINDOWS is not a registered requirement; did you mean 'TOTP_WINDOW'?*"]
    )


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[portal]\nbase_ur = "http://x"\n', "[portal.base_ur] is not a known key; did you mean 'base_url'?"),
        ("[portl]\nprofile = 'iimc'\n", "[portl] is not a known section; did you mean 'portal'?"),
        ('[mailbox]\nkind = "imapp"\n', "got 'imapp'; did you mean 'imap'?"),
        ("[mailbox]\nport = １０\n", "full-width characters '０１': write 'port = 10'"),
    ],
)
def test_config_mistakes_say_what_was_meant(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "portal.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path, environ={})
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "portal.toml"
    path.write_bytes(b'\xef\xbb\xbf[portal]\nprofile = "fast-test"\n')
    assert load(path, environ={}).profile == "fast-test"
    baseline = tmp_path / "baseline.toml"
    baseline.write_bytes(
        b'\xef\xbb\xbf[[expected_failure]]\nrequirement = "TOTP_WINDOW"\nreason = "ticket 1"\n'
    )
    assert Baseline.load(baseline, requirements()).expected == {"TOTP_WINDOW": "ticket 1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[expected_failure]]\nrequirement = "TOTP_WINDOWS"\nreason = "x"\n', "did you mean 'TOTP_WINDOW'?"),
        ("[[expected_failure]\n", "is not valid TOML: Expected ']]'"),
        ('expected_failure = "TOTP_WINDOW"\n', "expected_failure must be tables"),
        ('[[expected_failures]]\nrequirement = "TOTP_WINDOW"\n', "did you mean 'expected_failure'?"),
    ],
)
def test_baseline_mistakes_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "baseline.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        Baseline.load(path, requirements())
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_profile_driver_and_fault_typos_get_the_nearest_name(pytester: pytest.Pytester) -> None:
    profile = pytester.runpytest(*CHECKS, "--ninsho-profile", "iimcc")
    profile.stderr.fnmatch_lines(["*no profile 'iimcc'; did you mean 'iimc'?*"])
    driver = pytester.runpytest(*CHECKS, "--ninsho-driver", "jsn", "--ninsho-url", "http://127.0.0.1:9")
    driver.stderr.fnmatch_lines(["*no driver 'jsn'; did you mean 'json'?*"])
    assert driver.ret == pytest.ExitCode.USAGE_ERROR
    with pytest.raises(SystemExit) as caught:
        cli.parser().parse_args(["--fault", "wide-windw"])
    assert caught.value.code == 2
    assert "did you mean 'wide-window'" in did_you_mean("wide-windw", ["wide-window", "no-expiry"])


# --- start-up errors: one line, before any check ------------------------------------------
@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('[portal]\nbase_url = "http://127.0.0.1:9"\ndriver = "jsn"\n', "did you mean 'json'?"),
        (
            '[portal]\nbase_url = "http://127.0.0.1:9"\ndriver = "json"\n[accounts]\npool = ["qa1"]\n'
            'password_env = "NINSHO_NOT_SET_ANYWHERE"\n',
            "names the environment variable NINSHO_NOT_SET_ANYWHERE, which is not set",
        ),
    ],
)
def test_a_start_up_error_is_one_line_without_pytest_internals(
    tmp_path: Path, config: str, expected: str
) -> None:
    (tmp_path / "portal.toml").write_text(config, encoding="utf-8")
    done = ninsho_check(tmp_path, "portal.toml", "--report-dir", str(tmp_path / "reports"))
    assert done.returncode == 4, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("ERROR: ") and expected in errors[0], done.stderr
    output = done.stdout + done.stderr
    for internal in ("_pytest", "Traceback", "Exit:", "test session starts"):
        assert internal not in output, output


def test_an_unwritable_report_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    done = ninsho_check(tmp_path, "-k", "test_totp_window", "--report-dir", "a-file/reports")
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.strip() == "ERROR: reports: cannot write a-file/reports/ninsho.json: Not a directory"


def test_a_taken_smtp_port_is_named_as_this_machines_problem() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        with pytest.raises(LocalError) as caught:
            SmtpSinkMailbox("127.0.0.1", holder.getsockname()[1], lambda: 0.0)
    finally:
        holder.close()
    message = str(caught.value)
    assert "another program holds the port" in message and "[mailbox] port" in message, message
    assert "reach the portal" not in message
    assert errno.EADDRINUSE  # the cause the message words


# --- no raw HTML ---------------------------------------------------------------------------
def test_a_page_in_a_message_becomes_one_plain_line() -> None:
    nginx = (
        "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1>"
        "</center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n"
    )
    assert one_line(nginx) == "404 Not Found nginx/1.24.0"
    assert one_line("mail to <taro@example.com> refused") == "mail to <taro@example.com> refused"
    assert one_line("x" * 500, 20) == "x" * 19 + "…"
    assert "<" not in one_line(
        "<!doctype html><html><body><p>Server&nbsp;Error</p><script>x()</script></body></html>"
    )
