"""``ninsho``: arguments, users, the helpdesk, and the room left for ``ninsho check``."""

from __future__ import annotations

import io
import sys
import types
from pathlib import Path

import pytest

from ninsho import cli
from ninsho.reference.web.config import ServerConfig, build_runtime, pepper_path, resolve_pepper
from ninsho.spec.profile import Profile

from .support import cli_env, run_cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = cli.main(list(argv))
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["users"],
        ["users", "add"],
        ["serve", "--port", "99999"],
        ["serve", "--port", "http"],
        ["serve", "--smtp", "nohost"],
        ["serve", "--hash-cost", "99"],
        ["serve", "--workers", "0"],
        ["serve", "--workers", "many"],
        ["users", "add", "alice", "--password", "secret"],  # passwords never on argv
    ],
)
def test_bad_arguments_exit_2_without_traceback(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert "error:" in err and "Traceback" not in err


def test_bad_arguments_in_a_real_process() -> None:
    done = run_cli("serve", "--port", "0x50")
    assert done.returncode == 2
    assert "--port" in done.stderr and "Traceback" not in done.stderr


def test_workers_need_a_relay(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The demo outbox lives in one process's memory: with several, a mail would be lost to view."""
    status, _, err = run(capsys, "serve", "--workers", "2", "--db", str(tmp_path / "portal.sqlite"))
    assert status == 2 and "--workers needs --smtp" in err


def test_missing_db_folder_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = run(capsys, "users", "list", "--db", str(tmp_path / "no" / "such.sqlite"))
    assert status == 2 and "does not exist" in err


def test_users_add_list_remove(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = str(tmp_path / "users.sqlite")
    monkeypatch.setenv("ALICE_PW", "from the environment")
    assert (
        run(capsys, "users", "add", "alice", "--db", db, "--hash-cost", "4", "--password-env", "ALICE_PW")[0]
        == 0
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin\n"))
    assert run(capsys, "users", "add", "bob", "--db", db, "--hash-cost", "4")[0] == 0
    status, out, _ = run(capsys, "users", "list", "--db", db)
    assert status == 0 and out.split() == ["alice", "bob"]

    runtime = build_runtime(
        ServerConfig(
            profile=runtime_profile(), db_path=Path(db), pepper=resolve_pepper(Path(db)), hash_cost=4
        )
    )
    try:
        assert runtime.portal.login("alice", "from the environment").stage.value == "setup"
        assert runtime.portal.login("bob", "from stdin").stage.value == "setup"  # the newline is not in it
    finally:
        runtime.close()

    status, _, err = run(capsys, "users", "add", "alice", "--db", db, "--password-env", "ALICE_PW")
    assert status == 1 and "already exists" in err and "既に存在します" in err
    status, _, err = run(capsys, "users", "add", "bad id!", "--db", db, "--password-env", "ALICE_PW")
    assert status == 1 and "ECS-ID/SPS-ID" in err
    status, _, err = run(capsys, "users", "add", "carol", "--db", db, "--password-env", "UNSET_VARIABLE_X")
    assert status == 2 and "UNSET_VARIABLE_X" in err
    assert run(capsys, "users", "remove", "alice", "--db", db)[0] == 0
    status, _, err = run(capsys, "users", "remove", "alice", "--db", db)
    assert status == 1 and "No account" in err and "ありません" in err
    assert run(capsys, "users", "list", "--db", db)[1].split() == ["bob"]


def runtime_profile() -> Profile:
    from ninsho.spec.registry import load_profile

    return load_profile("iimc")


def test_pepper_is_made_once_and_kept(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite"
    first = resolve_pepper(db, env={})
    assert pepper_path(db).stat().st_mode & 0o777 == 0o600
    assert resolve_pepper(db, env={}) == first
    assert resolve_pepper(db, env={"NINSHO_PEPPER": "ab" * 16}) == bytes.fromhex("ab" * 16)
    assert len(first) == 32


def test_helpdesk_issue_code(capsys: pytest.CaptureFixture[str], tmp_path: Path, profile: Profile) -> None:
    db = tmp_path / "helpdesk.sqlite"
    runtime = build_runtime(ServerConfig(profile=profile, db_path=db, pepper=resolve_pepper(db), hash_cost=4))
    try:
        runtime.portal.add_user("dora", "pw")
        status, _, err = run(capsys, "helpdesk", "issue-code", "dora", "--db", str(db))
        assert (
            status == 1 and "初期化" in err and "initialization" in err
        )  # nothing pending [HELPDESK_PENDING_ONLY]

        session = runtime.portal.login_for_reset("dora", "pw").session
        assert runtime.portal.initialize(session).mailed is False
        status, out, _ = run(capsys, "helpdesk", "issue-code", "dora", "--db", str(db))
        assert status == 0
        assert profile.helpdesk_hours in out and profile.helpdesk_phone in out
        code = out.split("dora: ")[1].split()[0]
        assert len(code) == profile.confirmation_code_digits
        assert runtime.portal.confirm_reset(session, code).value == "setup"  # the code the server accepts
    finally:
        runtime.close()


def test_helpdesk_confirm(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The 2021 portal's center: ``helpdesk confirm`` moves the caller's open reset screen on to
    the set-up (faq-totp-reset-2021.en.txt "ICT Support Center" 2) [RESET_LINK_HELPDESK_CONFIRM]."""
    from ninsho.spec.registry import load_profile

    profile = load_profile("iimc-2021")
    db = tmp_path / "center.sqlite"
    runtime = build_runtime(ServerConfig(profile=profile, db_path=db, pepper=resolve_pepper(db), hash_cost=4))
    argv = ("helpdesk", "confirm", "dora", "--db", str(db), "--profile", "iimc-2021")
    try:
        runtime.portal.add_user("dora", "pw")
        status, _, err = run(capsys, *argv)
        assert status == 1 and "初期化" in err and "initialization" in err and "Traceback" not in err
        session = runtime.portal.login_for_reset("dora", "pw").session
        assert runtime.portal.initialize(session).mailed is False
        status, out, _ = run(capsys, *argv)
        assert status == 0 and "dora" in out
        assert runtime.portal.settings(session).stage.value == "setup"  # the open screen moved on
        assert run(capsys, *argv)[0] == 1  # done: nothing pending any more
    finally:
        runtime.close()


def test_check_is_delegated_to_the_harness(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType("ninsho.conformance.cli")
    fake.main = lambda argv: seen.append(argv) or 3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ninsho.conformance.cli", fake)
    status, _, _ = run(capsys, "check", "--ninsho-portal", "x.toml", "-k", "TOTP")
    assert status == 3 and seen == [["--ninsho-portal", "x.toml", "-k", "TOTP"]]


def test_check_without_the_harness_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ninsho.conformance.cli", None)  # as if the module did not exist
    status, _, err = run(capsys, "check")
    assert status == 2 and "ninsho.conformance.cli" in err and "Traceback" not in err


def test_console_script_env_has_no_stray_settings() -> None:
    assert not any(k.startswith("NINSHO_") for k in cli_env())


def test_a_file_that_is_not_a_database_is_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    not_db = tmp_path / "notes.txt"
    not_db.write_text("this is not SQLite " * 100)
    status, _, err = run(capsys, "users", "list", "--db", str(not_db))
    assert status == 1 and "DatabaseError" in err and "Traceback" not in err


def test_a_served_portal_without_relay_logs_its_mail(
    profile: Profile, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ninsho.reference.core.mail import compose
    from ninsho.reference.core.state import Purpose

    caplog.set_level("INFO", logger="ninsho")
    db = tmp_path / "demo.sqlite"
    runtime = build_runtime(ServerConfig(profile=profile, db_path=db, pepper=resolve_pepper(db), hash_cost=4))
    try:
        assert "no SMTP relay" in caplog.text
        runtime.portal.mailer.send(compose(profile, Purpose.LOGIN, "demo@example.org", "24681357"))
        assert runtime.outbox is not None and runtime.outbox.latest("demo@example.org") is not None
        assert "24681357" in caplog.text and "demo@example.org" in caplog.text
    finally:
        runtime.close()


def test_an_operators_command_does_not_warn_about_mail_it_never_sends(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`ninsho users add` sends no mail: the no-relay warning is for `ninsho serve` alone."""
    db = tmp_path / "p.sqlite"
    monkeypatch.setenv("NINSHO_QUIET_PW", "a-password-of-some-length")
    with caplog.at_level("WARNING"):
        status, out, err = run(
            capsys, "users", "add", "quiet01", "--db", str(db), "--password-env", "NINSHO_QUIET_PW"
        )
    assert (status, out.strip()) == (0, "added quiet01"), err
    assert "SMTP relay" not in caplog.text + err
    config = ServerConfig(profile=runtime_profile(), db_path=db, pepper=resolve_pepper(db), hash_cost=4)
    with caplog.at_level("WARNING"):
        build_runtime(config).close()  # served: the warning is said
    assert "no SMTP relay" in caplog.text
