"""No account left behind: a run deletes what it created through the admin API, and the next run
deletes what a killed run's journal lists (conformance/leftovers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from ninsho.conformance.drivers.json_api import AdminApiOperator
from ninsho.conformance.leftovers import Journal
from tests.harness.test_http_harness import ADMIN_TOKEN, TOKEN_ENV, harness_server, ninsho_check, portal_toml
from tests.web.support import NINSHO, cli_env, run_cli


def dead_pid() -> int:
    """The PID of a process that has ended (reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_the_journal_holds_what_is_not_deleted_yet(tmp_path: Path) -> None:
    journal = Journal("https://portal.test", tmp_path)
    journal.created("nsh1")
    journal.created("nsh2")
    journal.deleted("nsh1")
    assert journal.open_accounts() == ["nsh2"]
    assert journal.path.read_text() == "nsh2\n"
    journal.deleted("nsh2")
    assert not journal.path.exists(), "an empty journal is no file"


def test_the_runs_end_deletes_its_accounts_at_once_and_keeps_what_stayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the end, every account the run made is deleted, several at once; one the portal
    would not remove stays in the journal, and the journal is written once."""
    together = threading.Barrier(2, timeout=10)  # nsh1 and nsh2 are answered only if both are asked at once

    def admin_api(request: httpx.Request) -> httpx.Response:
        login_id = request.url.path.rsplit("/", 1)[1]
        if login_id in ("nsh1", "nsh2"):
            together.wait()
        if login_id == "nsh3":
            return httpx.Response(403, json={"error": "forbidden", "message": {"en": "no", "ja": "no"}})
        return httpx.Response(204 if login_id != "nsh5" else 404, json={})

    journal = Journal("https://portal.test", tmp_path)
    client = httpx.Client(base_url="https://portal.test/api/v1/", transport=httpx.MockTransport(admin_api))
    for n in range(1, 9):
        journal.created(f"nsh{n}")
    saves, save = [], journal._save
    monkeypatch.setattr(journal, "_save", lambda: saves.append(1) or save())
    AdminApiOperator(client, {}, "example.test", journal=journal).close()
    assert journal.open_accounts() == ["nsh3"] and journal.path.read_text() == "nsh3\n"
    assert len(saves) == 1, "the journal is written once, not once an account"


def test_the_sweep_takes_only_dead_runs_of_the_same_portal(tmp_path: Path) -> None:
    ours = Journal("https://portal.test", tmp_path)
    (tmp_path / f"{ours.key}-{dead_pid()}.txt").write_text("nshdead1\nnshdead2\n")
    (tmp_path / f"{ours.key}-{os.getppid()}.txt").write_text("nshalive\n")  # a run still going
    other = Journal("https://other.test", tmp_path)
    (tmp_path / f"{other.key}-{dead_pid()}.txt").write_text("nshother\n")
    asked: list[str] = []
    removed = ours.sweep(lambda login_id: asked.append(login_id) or login_id != "nshdead2")
    assert asked == ["nshdead1", "nshdead2"] and removed == ["nshdead1"]
    kept = [p for p in tmp_path.glob(f"{ours.key}-*.txt") if "nshdead2" in p.read_text()]
    assert len(kept) == 1, "what the portal did not remove stays in the journal for the next run"


def accounts(db: Path) -> set[str]:
    listed = run_cli("users", "list", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    return {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}


@pytest.mark.slow
def test_a_run_leaves_no_account_and_sweeps_a_killed_runs(tmp_path: Path) -> None:
    server = harness_server(tmp_path / "server").start()
    cache = tmp_path / "cache"
    env = cli_env(**{TOKEN_ENV: ADMIN_TOKEN, "XDG_CACHE_HOME": str(cache)})
    try:
        config = portal_toml(tmp_path / "portal.toml", server, "json")
        before = accounts(server.db)
        # What a killed run left: an account it created, and its journal.
        created = subprocess.run(
            [NINSHO, "users", "add", "nshkilledrun", "--db", str(server.db), "--password-env", TOKEN_ENV],
            env=env,
            capture_output=True,
            text=True,
        )
        assert created.returncode == 0, created.stderr
        journal = Journal(server.url.rstrip("/") + "/api/v1/", cache / "ninsho" / "created-accounts")
        journal.folder.mkdir(parents=True)
        (journal.folder / f"{journal.key}-{dead_pid()}.txt").write_text("nshkilledrun\n")
        run = ninsho_check(tmp_path, str(config), "-m", "TOTP_REPLAY or LOCKOUT_THRESHOLD", env=env)
        after = accounts(server.db)
    finally:
        server.stop()
    assert run.status == 0, run.output
    ran = run.report
    assert ran is not None, run.output
    assert any(row["checks"] for row in ran["requirements"]), "checks ran and created accounts"
    assert after == before, f"left behind: {sorted(after - before)}"
    assert not list(journal.folder.glob("*.txt")), "no journal outlives a finished run"
